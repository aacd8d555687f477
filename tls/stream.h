// tls::Stream: one TLS connection over a connected socket, blocking or not.
//
// It wraps an OpenSSL SSL object on the descriptor and says after each call what it waits for,
// so an event loop can drive it: the handshake, then reads and writes of plain bytes.
//
//   auto stream = tls::Stream::Accept(context, fd);      // or Connect(), on a client
//   switch (stream->Handshake()) {
//     case tls::Progress::kDone:      ...                // verified; peer_subject() is known
//     case tls::Progress::kWantRead:  ...                // wait for EPOLLIN, call again
//     case tls::Progress::kWantWrite: ...                // wait for EPOLLOUT, call again
//     default:                        ...                // failure(), error() say why
//   }
//   size_t n = stream->Read(buf, size, &progress);       // n > 0, or progress says why not
//
// OpenSSL reads ahead (up to 64 KiB a read(2)), so bytes can wait inside it after a Read()
// while the socket has none: an event loop that waits for the socket to be readable must
// first call Read() again while pending() says so.
//
// Not thread-safe: one owner. It does not own the descriptor.
#ifndef TLS_STREAM_H_
#define TLS_STREAM_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

#include "tls/context.h"

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

namespace tls {

// What a call did or waits for.
enum class Progress {
  kDone,       // the handshake finished, or bytes moved
  kWantRead,   // call again once the socket is readable
  kWantWrite,  // call again once the socket is writable
  kEnd,        // the peer ended the stream (close_notify or a TCP close)
  kFailed,     // the connection cannot go on: failure() and error() say why
};

// Why a handshake failed, for counters (a server counts each reason).
enum class Failure {
  kNone,
  kNoCertificate,   // the client sent none and the server requires one
  kBadCertificate,  // the peer's certificate did not verify (expired, unknown CA, wrong name)
  kProtocol,        // not TLS, or no version or cipher in common, or a malformed message
  kAborted,         // the peer closed or reset the connection before the handshake finished
};

class Stream {
 public:
  // The largest plaintext in one TLS record: Read() takes a whole record when given this much.
  static constexpr size_t kMaxRecordBytes = 16384;
  // OpenSSL reads ahead into a buffer this large (tls/context.cc).
  static constexpr size_t kReadAheadBytes = 64 << 10;

  static std::unique_ptr<Stream> Accept(const Context& context, int fd);
  static std::unique_ptr<Stream> Connect(const Context& context, int fd);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  Progress Handshake();
  bool handshake_done() const { return handshake_done_; }

  // Plain bytes in and out. Both return how many moved (0 with `*progress` saying why).
  size_t Read(char* data, size_t size, Progress* progress);
  size_t Write(const char* data, size_t size, Progress* progress);

  // The same with read(2)'s and send(2)'s results, for code written against them: bytes
  // moved, 0 at the end of the stream (ReadSome), or -1 with errno EAGAIN (wait for the
  // socket), EPROTO (ReadSome) or EPIPE (WriteSome) when the connection failed. ReadSome takes
  // record after record while a whole one fits, as one read(2) would take all there is.
  ssize_t ReadSome(char* data, size_t size);
  ssize_t WriteSome(const char* data, size_t size);

  // Whether bytes read from the socket wait inside OpenSSL (a Read() would return some without
  // the socket becoming readable).
  bool pending() const;
  // At most what OpenSSL holds for this stream now beyond its fixed state: the read-ahead
  // buffer while it holds bytes (records not yet returned, or part of one), else nothing. For
  // a memory budget.
  size_t held_bytes() const { return pending() ? kReadAheadBytes : 0; }
  // Whether the last call stopped because the socket must become writable.
  bool wants_write() const { return wants_write_; }
  Failure failure() const { return failure_; }
  // What went wrong, in words (OpenSSL's reason and the certificate check's).
  const std::string& error() const { return error_; }

  // After the handshake: the peer certificate's subject ("O=Example,CN=client-1", RFC 2253
  // form), or empty if it sent none; the protocol ("TLSv1.3"); whether a session was resumed.
  std::string peer_subject() const;
  std::string version() const;
  bool session_reused() const;

  // Client side, for resumption: the session to offer (before Handshake), and the one this
  // connection can be resumed from (with TLS 1.3 it arrives after the handshake, with the
  // server's first records: take it after a reply has been read). Null if none.
  using Session = std::shared_ptr<SSL_SESSION>;
  void set_session(const Session& session);
  Session resumable_session() const;

  // Sends close_notify if the socket takes it now; never waits.
  void Shutdown();

 private:
  explicit Stream(SSL* ssl) : ssl_(ssl) {}
  // Maps an OpenSSL result (<= 0) to Progress, recording the failure.
  Progress Classify(int result);

  SSL* const ssl_;
  bool handshake_done_ = false;
  bool wants_write_ = false;
  Failure failure_ = Failure::kNone;
  std::string error_;
};

const char* FailureName(Failure failure);

}  // namespace tls

#endif  // TLS_STREAM_H_
