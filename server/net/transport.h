// Transport: how one connection's bytes move between its socket and its buffers.
//
// Three implementations, one interface: RawTransport (plain text on readiness), TlsTransport
// (TLS on readiness, through tls::Stream, with its handshake) and UringTransport (plain text by
// io_uring completions). A transport is bound at construction to its connection's input
// decoder and output queue; the connection asks it what to wait for (Wait), to read (Read) and
// to write (Write), and the transport tells it when either may make progress (TransportEvents),
// whatever it waited on: an epoll event or a completion. Which transport a connection gets is
// decided in one place (Transports, transports.h); nothing else asks which one it has.
//
// The interface serves an accepted connection and one this server opens alike.
//
// Thread rule: the loop thread of the connection's worker.
#ifndef SERVER_NET_TRANSPORT_H_
#define SERVER_NET_TRANSPORT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "common/poller.h"
#include "handlers/handler.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"

namespace server {

// What a transport tells its connection.
class TransportEvents {
 public:
  virtual ~TransportEvents() = default;
  // Reading (`readable`) or writing (`writable`) may make progress; `failed`: the socket
  // reported an error or a hang-up (seen even where the connection is not reading).
  virtual void OnTransportReady(bool readable, bool writable, bool failed) = 0;
};

// The result of one Read() or Write().
struct IoResult {
  enum Kind {
    kOk,     // `bytes` moved (possibly 0: nothing to do, or the socket had nothing / no room)
    kEnd,    // Read: the peer has finished sending
    kError,  // `error` is the errno
  };
  Kind kind = kOk;
  int64_t bytes = 0;
  int error = 0;
};

class Transport {
 public:
  // The connection's: the socket (not owned: the connection closes it) and its buffers.
  struct Binding {
    int fd;
    TransportEvents* events;
    protocol::FrameDecoder* input;
    protocol::OutputQueue* output;
  };

  enum class Handshake { kDone, kWaiting, kFailed };

  virtual ~Transport() = default;

  // Continues the handshake, if the transport has one (kDone at once otherwise). On kFailed
  // the transport has counted and logged why; the connection closes.
  virtual Handshake ContinueHandshake() { return Handshake::kDone; }
  virtual bool handshake_done() const { return true; }

  // What the connection waits for now: input (while it reads) and room for output (while
  // output waits). Cheap when nothing changed.
  virtual absl::Status Wait(bool read, bool write) = 0;
  // Moves what has arrived into the input decoder.
  virtual IoResult Read() = 0;
  // Writes what the socket takes of the output queue, consuming it.
  virtual IoResult Write() = 0;
  // Best effort before a forced close: writes what the socket takes now, never waiting.
  virtual void WriteNow() { Write(); }

  // Input waits inside the transport that no event will announce (bytes OpenSSL read ahead,
  // completions that came while the connection was not reading).
  virtual bool input_pending() const { return false; }
  // Memory the transport holds for the connection, beyond its decoder and output queue.
  virtual int64_t held_bytes() const { return 0; }
  // What the transport knows of the peer (TLS: its certificate).
  virtual void Describe(handlers::ConnectionInfo*) const {}
  // Readiness transports: the epoll set to wait in from now on (probation, then the loop's).
  virtual void WaitIn(common::Poller*) {}

  // Before the descriptor is closed: shuts down, cancels what is in flight; delivers nothing
  // more.
  virtual void Close() = 0;
  // The kernel holds no operation of this transport: it (and its buffers) may be freed.
  virtual bool idle() const { return true; }
  // After Close(): the kernel no longer reads the output queue, which may be freed.
  virtual bool output_released() const { return true; }
};

}  // namespace server

#endif  // SERVER_NET_TRANSPORT_H_
