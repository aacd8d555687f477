// Upstream: another service a handler calls without holding a thread while it waits.
//
// A service declares it once, in Start(), with the backends' addresses; every handler of the
// service shares it. Each worker keeps its own connections to each backend, opened on demand
// and shared by all the worker's clients, with requests pipelined on them (replies matched in
// order). A call is made from Handle() (on the connection's worker loop), and its answer comes
// back as a callback on that same loop, which answers the client through Reply::Defer():
//
//   absl::Status Start(handlers::StartContext& context) override {
//     absl::StatusOr<handlers::Upstream*> cache =
//         context.AddUpstream({.name = "cache", .backends = {"10.0.0.7:7000", "10.0.0.8:7000"}});
//     if (!cache.ok()) return cache.status();
//     cache_ = *cache;
//     return absl::OkStatus();
//   }
//   absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
//     cache_->Call(request, {.timeout = absl::Milliseconds(200), .retryable = true},
//                  [done = reply.Defer()](absl::StatusOr<std::string> answer) mutable {
//                    if (answer.ok()) return done.Finish(*std::move(answer));
//                    done.Fail(answer.status());
//                  });
//     return absl::OkStatus();
//   }
//
// The callback runs exactly once: with the backend's reply payload; with the backend's own
// error reply as a status; DEADLINE_EXCEEDED when `timeout` passed first; UNAVAILABLE when no
// backend could take the call (all ejected, every connection full, the connection failed and
// the call may not be retried, the server is draining). The behaviours (balancing, retries and
// their budget, ejection, reconnect backoff) and their metrics: docs/upstreams.md.
#ifndef HANDLERS_UPSTREAM_H_
#define HANDLERS_UPSTREAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace handlers {

struct UpstreamOptions {
  std::string name;                    // in logs and metrics: [a-z0-9_]+
  std::vector<std::string> backends;   // "host:port": an IP literal, or a name (resolved at
                                       // start, and again every `resolve_every`)
  std::string balance = "round_robin"; // round_robin | least_request | hash
  int max_connections_per_backend = 2; // per worker
  int max_pipelined = 256;             // calls in flight on one connection
  absl::Duration connect_timeout = absl::Seconds(1);
  int failures_to_eject = 5;           // consecutive failures that eject a backend
  absl::Duration eject_base = absl::Seconds(1);  // first ejection; doubles each time
  absl::Duration eject_max = absl::Seconds(30);
  absl::Duration reconnect_base = absl::Milliseconds(100);  // after a failed connect; doubles
  absl::Duration reconnect_max = absl::Seconds(10);
  absl::Duration resolve_every = absl::Seconds(30);  // names only; zero: resolved once
  // Active health checks: every `health_check_every` (zero: none, passive health only) each
  // worker sends `health_check_request` as one frame to each backend, ejected or not, due in
  // `health_check_timeout`. Any reply (an error reply too: the backend answered) takes an
  // ejected backend back at once; no reply in time, or a failed connection, counts towards
  // ejecting it as a call's failure does. Probes are not calls: not in the calls metrics.
  absl::Duration health_check_every = absl::ZeroDuration();
  std::string health_check_request;
  absl::Duration health_check_timeout = absl::Seconds(1);
  int max_attempts = 3;                // a retryable call: the first try and two retries
  double retry_ratio = 0.2;            // retries at most this share of calls over 10 s...
  int retry_floor = 100;               // ...plus this many, whatever the traffic
  // TLS to every backend (docs/tls.md): the CAs that may sign their certificates (empty: the
  // system's), this server's own certificate and key for mutual TLS (optional), and the name
  // their certificates must carry, sent as SNI (empty: not checked).
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
};

struct CallOptions {
  absl::Duration timeout = absl::Seconds(1);  // the whole call, retries included
  bool retryable = false;  // may be sent again, to another backend, if its connection fails
  uint64_t hash_key = 0;   // balance=hash: calls with the same key go to the same backend
  // Calls made one after another in a loop turn with the same nonzero `batch` (a client's
  // pipelined requests: its connection's id) go on one backend connection while it has room,
  // so their replies come back together rather than from every backend in turn. The balancer
  // then picks once per batch (round_robin, least_request); hash balancing ignores it.
  uint64_t batch = 0;
};

// The reply's payload, or why there is none.
using UpstreamCallback = absl::AnyInvocable<void(absl::StatusOr<std::string> reply)>;

class Upstream {
 public:
  virtual ~Upstream() = default;
  // From a worker's loop only (Handle(), or another upstream callback): `done` runs later on
  // the same loop, never inside Call(). From any other thread (an offloaded call) `done` gets
  // FAILED_PRECONDITION at once.
  virtual void Call(absl::string_view request, const CallOptions& options,
                    UpstreamCallback done) = 0;
};

}  // namespace handlers

#endif  // HANDLERS_UPSTREAM_H_
