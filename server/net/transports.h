// Transports: the one place that decides which transport (transport.h) a connection gets.
//
//   - an accepted connection waits in the probation set: TlsTransport on a TLS listener,
//     RawTransport otherwise;
//   - after its first frame it waits in the loop's own set; on the io_uring backend a
//     plain-text connection moves to completions (UringTransport). TLS stays on readiness:
//     OpenSSL does its own I/O;
//   - a connection this server opens to a backend connects on readiness in the loop's set,
//     then moves on as an accepted one does after its first frame.
// It owns the read buffer its worker's readiness transports share.
//
//   Transports transports({&loop, &probation.poller(), &stats, &log_limiter});
//   std::unique_ptr<Transport> t = transports.ForAccepted(binding, tls_context);
//   t = transports.ForEstablished(std::move(t), binding, tls_context);
//
// Thread rule: the worker's loop thread.
#ifndef SERVER_NET_TRANSPORTS_H_
#define SERVER_NET_TRANSPORTS_H_

#include <cstddef>
#include <memory>

#include "common/event_loop.h"
#include "common/log_limiter.h"
#include "server/net/tls_transport.h"
#include "server/net/transport.h"
#include "server/stats/stats.h"
#include "tls/context.h"

namespace server {

class Transports {
 public:
  struct Env {
    common::EventLoop* loop;     // its epoll set and, on io_uring, its ring
    common::Poller* probation;   // where connections wait until their first frame
    WorkerStats* stats;
    common::LogLimiter* log;
  };

  explicit Transports(const Env& env);

  // A new accepted connection's, `tls` its listener's TLS settings (null for plain text). Null
  // if TLS could not start (logged).
  std::unique_ptr<Transport> ForAccepted(const Transport::Binding& binding,
                                         const tls::Context* tls);
  // A connection this server opens (server/upstream), on readiness in the loop's own set while
  // it connects: plain text, or TLS's client side with `tls` (a client context; null for plain
  // text, and null returned if TLS could not start, logged); ForEstablished() once connected.
  std::unique_ptr<Transport> ForOutbound(const Transport::Binding& binding,
                                         const tls::Context* tls);
  // The same connection's once it has completed a frame (an outbound one: once connected).
  std::unique_ptr<Transport> ForEstablished(std::unique_ptr<Transport> current,
                                            const Transport::Binding& binding,
                                            const tls::Context* tls);

 private:
  // One read takes up to this much.
  static constexpr size_t kReadBufferBytes = 256 << 10;

  const Env env_;
  const std::unique_ptr<char[]> read_buffer_;
};

}  // namespace server

#endif  // SERVER_NET_TRANSPORTS_H_
