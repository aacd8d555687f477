// Client: a blocking connection to the server that sends frames and reads replies.
//
// Every call has a deadline (the timeout given to Connect), and every failure comes back as a
// status whose message names the server's address and the cause, ready to show a user:
//
//   absl::StatusOr<std::unique_ptr<Client>> client =
//       Client::Connect("127.0.0.1", 8080, absl::Seconds(5));
//   if (!client.ok()) { std::cerr << client.status().message(); return 1; }
//   absl::StatusOr<Client::Reply> reply = (*client)->Call("hello");
//   // reply->is_error tells an error reply (docs/protocol.md) from a normal one.
//
// With a tls::Context it speaks TLS: Connect() completes the handshake (a certificate that does
// not verify fails it, with OpenSSL's reason in the message). OpenSSL writes with write(2), so
// a program using TLS clients must ignore SIGPIPE (the client binary does), or a server that
// closes first ends it.
//
// Not thread-safe: one thread per Client.
#ifndef CLIENT_CLIENT_H_
#define CLIENT_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "tls/context.h"
#include "tls/stream.h"

namespace client {

class Client {
 public:
  struct Reply {
    std::string payload;
    bool is_error = false;  // an error reply: payload is "<CODE>: <message>"
  };

  // Connects to `host` (name or IPv4/IPv6 literal) and `port`. `timeout` bounds the connect and
  // each later call.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      absl::string_view host, int port, absl::Duration timeout,
      uint32_t max_frame_bytes = protocol::kDefaultMaxFrameBytes,
      const tls::Context* tls = nullptr, const tls::Stream::Session& resume = nullptr);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one frame carrying `payload`.
  absl::Status Send(absl::string_view payload);
  // Sends bytes as they are, framed or not (for tests of malformed input).
  absl::Status SendRaw(absl::string_view bytes);
  // Reads the next reply.
  absl::StatusOr<Reply> Receive();
  // Send() then Receive().
  absl::StatusOr<Reply> Call(absl::string_view payload);

  // Closes the sending direction; replies can still be read.
  void ShutdownWrite();

  // True if some bytes of the next reply have arrived (a retry would not be safe).
  bool reply_started() const { return decoder_.buffered_bytes() > 0; }

  // For callers that run their own loop on fd() (the bench): read(2) and send(2) semantics,
  // through TLS when the connection has it. ReadSome() needs room for a whole TLS record
  // (tls::Stream::kMaxRecordBytes).
  ssize_t ReadSome(char* data, size_t size);
  ssize_t WriteSome(const char* data, size_t size);
  // Why the last ReadSome() or WriteSome() failed: OpenSSL's reason on TLS (an alert from the
  // server, such as "certificate required"), else the system's.
  std::string IoError() const;

  int fd() const { return fd_; }
  // The TLS stream, or null on plain text.
  const tls::Stream* tls() const { return tls_.get(); }
  const std::string& address() const { return address_; }

 private:
  Client(int fd, std::string address, absl::Duration timeout, uint32_t max_frame_bytes);
  // Waits for `events` until `deadline_ns` (common::MonotonicNanos()).
  absl::Status WaitFor(short events, int64_t deadline_ns, absl::string_view doing);
  absl::Status Handshake(const tls::Context& context, const tls::Stream::Session& resume,
                         int64_t deadline_ns);
  std::string SendError();

  const int fd_;
  const std::string address_;  // "host:port", for messages
  const absl::Duration timeout_;
  protocol::FrameDecoder decoder_;
  std::string read_buffer_;
  std::unique_ptr<tls::Stream> tls_;
};

}  // namespace client

#endif  // CLIENT_CLIENT_H_
