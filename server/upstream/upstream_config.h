// UpstreamConfig: one upstream as a service declared it (handlers/upstream.h), checked and
// resolved at start-up (backends given by name again every `resolve_every`, by Upstreams'
// resolver thread), and the counters its pools share across workers.
//
//   absl::StatusOr<std::unique_ptr<UpstreamConfig>> config = UpstreamConfig::Make(options);
//
// Immutable after Make() except for the counters (atomics) and the backends' addresses (under
// a lock, read only when a pool connects): shared by every worker's pool.
#ifndef SERVER_UPSTREAM_UPSTREAM_CONFIG_H_
#define SERVER_UPSTREAM_UPSTREAM_CONFIG_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "handlers/upstream.h"
#include "server/stats/stats.h"
#include "server/upstream/policy/balancer.h"
#include "server/upstream/upstream_connection.h"
#include "tls/context.h"

namespace server {
namespace upstream {

// What /metrics shows of one backend, summed over the workers.
struct BackendCounters {
  std::atomic<int64_t> calls{0};            // attempts sent to it (first tries and retries)
  std::atomic<int64_t> replies{0};
  std::atomic<int64_t> errors_connect{0};   // refused, unreachable, or the connect timed out
  std::atomic<int64_t> errors_reset{0};     // the connection broke with calls in flight
  std::atomic<int64_t> errors_bad_reply{0}; // a bad header, or a reply to no call
  std::atomic<int64_t> errors_timeout{0};   // a call's deadline passed while it was on it
  std::atomic<int64_t> late_replies{0};     // replies that came after their call's deadline
  std::atomic<int64_t> ejections{0};
  std::atomic<int64_t> health_checks_ok{0};      // probes answered (health_check_every)
  std::atomic<int64_t> health_checks_failed{0};  // probes not answered in time, or refused
  std::atomic<int64_t> open_connections{0}; // gauge: connected or connecting
  std::atomic<int64_t> in_flight{0};        // gauge: calls sent, not yet answered
  LatencyBuckets latency;                   // from the send to the reply, of `replies`
};

struct UpstreamCounters {
  std::atomic<int64_t> calls{0};        // Call()s
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> retries_refused{0};  // by the retry budget
  std::atomic<int64_t> unavailable{0};  // calls answered UNAVAILABLE
  std::atomic<int64_t> timeouts{0};     // calls answered DEADLINE_EXCEEDED
  std::atomic<int64_t> resolve_failures{0};  // a backend's name that did not resolve again
};

class UpstreamConfig {
 public:
  // How a backend's name becomes an address: Resolve() below, or a test's.
  using Resolver = std::function<absl::StatusOr<Address>(absl::string_view host_port)>;

  struct Backend {
    std::string name;  // as given: "host:port"
    bool by_name = false;  // its host is a name, not an IP literal: resolved again from time to time
    std::unique_ptr<BackendCounters> counters = std::make_unique<BackendCounters>();
    // Any thread: where new connections to it go.
    Address address() const {
      std::lock_guard<std::mutex> lock(resolved->mu);
      return resolved->address;
    }

    struct Resolved {
      mutable std::mutex mu;  // std::mutex: TSan understands it
      Address address;        // guarded by mu
    };
    std::unique_ptr<Resolved> resolved = std::make_unique<Resolved>();
  };

  // Checks `options` (InvalidArgument naming the field) and resolves each backend.
  static absl::StatusOr<std::unique_ptr<UpstreamConfig>> Make(
      const handlers::UpstreamOptions& options, Resolver resolve = nullptr);

  // Resolves the backends given by name again (blocking: off the loops). A name that no longer
  // resolves keeps its last address (logged, counted); returns how many addresses changed.
  int ResolveAgain() const;

  const handlers::UpstreamOptions& options() const { return options_; }
  Balance balance() const { return balance_; }
  const std::vector<Backend>& backends() const { return backends_; }
  UpstreamCounters& counters() const { return counters_; }
  // TLS's client side to every backend, or null for plain text.
  const tls::Context* tls() const { return tls_.get(); }

 private:
  UpstreamConfig() = default;

  handlers::UpstreamOptions options_;
  Balance balance_ = Balance::kRoundRobin;
  std::vector<Backend> backends_;
  std::unique_ptr<tls::Context> tls_;
  Resolver resolve_;
  mutable UpstreamCounters counters_;
};

// "host:port" or "[v6]:port" resolved (getaddrinfo: blocking, so never on a loop).
absl::StatusOr<Address> Resolve(absl::string_view host_port);

}  // namespace upstream
}  // namespace server

#endif  // SERVER_UPSTREAM_UPSTREAM_CONFIG_H_
