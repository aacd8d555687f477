// TlsTransport: TLS on readiness, through tls::Stream (docs/tls.md). The handshake comes first
// (ContinueHandshake, counted in the worker's stats by outcome); then records are read into
// the connection's decoder and its output is written record by record. What OpenSSL has read
// ahead is input no epoll event announces (input_pending), and memory the connection holds
// (held_bytes).
//
//   std::unique_ptr<Transport> t = TlsTransport::Accept(binding, set, scratch, size, context, &env);
//   if (t == nullptr) close;          // TLS could not start (logged)
//   while (t->ContinueHandshake() == Transport::Handshake::kWaiting) wait for an event;
//
// Thread rule: the loop thread.
#ifndef SERVER_NET_TLS_TRANSPORT_H_
#define SERVER_NET_TLS_TRANSPORT_H_

#include <memory>

#include "common/event_loop.h"
#include "common/log_limiter.h"
#include "server/net/raw_transport.h"
#include "server/stats/stats.h"
#include "tls/context.h"
#include "tls/stream.h"

namespace server {

class TlsTransport : public RawTransport {
 public:
  // Where handshake outcomes are counted and failures logged (the worker's; not owned).
  struct Report {
    WorkerStats* stats;  // null: not counted (a connection to a backend: its upstream counts)
    common::LogLimiter* log;
    const common::EventLoop* loop;  // its now_ns() for the log limiter
  };

  // The server side of a new connection, or null if TLS could not start (logged).
  static std::unique_ptr<TlsTransport> Accept(const Binding& binding, common::Poller* set,
                                              char* scratch, size_t scratch_bytes,
                                              const tls::Context& context, const Report& report);

  // The client side, for a connection this server opens to a backend (`context` a client
  // context: its CA, certificate and server name), or null if TLS could not start (logged).
  static std::unique_ptr<TlsTransport> Connect(const Binding& binding, common::Poller* set,
                                               char* scratch, size_t scratch_bytes,
                                               const tls::Context& context, const Report& report);

  Handshake ContinueHandshake() override;
  bool handshake_done() const override { return stream_->handshake_done(); }
  absl::Status Wait(bool read, bool write) override {
    return RawTransport::Wait(read, write || stream_->wants_write());
  }
  bool input_pending() const override { return stream_->pending(); }
  int64_t held_bytes() const override { return static_cast<int64_t>(stream_->held_bytes()); }
  void Describe(handlers::ConnectionInfo* info) const override;
  void Close() override;

 protected:
  ssize_t Receive(char* data, size_t size) override { return stream_->ReadSome(data, size); }
  ssize_t Send() override;
  void OnReady(uint32_t events) override;

 private:
  TlsTransport(const Binding& binding, common::Poller* set, char* scratch, size_t scratch_bytes,
               std::unique_ptr<tls::Stream> stream, const Report& report)
      : RawTransport(binding, set, scratch, scratch_bytes),
        stream_(std::move(stream)),
        report_(report) {}

  const std::unique_ptr<tls::Stream> stream_;
  const Report report_;
};

}  // namespace server

#endif  // SERVER_NET_TLS_TRANSPORT_H_
