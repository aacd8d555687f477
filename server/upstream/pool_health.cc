// Pool's active health checks (UpstreamOptions::health_check_every): a probe frame to each
// backend, ejected or not, answered by OnReply() (pool.cc) like a call.
#include "server/upstream/pool.h"

namespace server {
namespace upstream {

void Pool::CheckHealth(int64_t now_ns) {
  const int64_t every_ns = absl::ToInt64Nanoseconds(options_.health_check_every);
  if (every_ns <= 0 || shut_down_) return;
  for (int i = 0; i < backends_.size(); ++i) {
    Backends::Backend& b = backends_[i];
    if (b.checking || now_ns < b.next_check_ns) continue;
    b.next_check_ns = now_ns + every_ns;
    BackendCounters& counters = *config_->backends()[i].counters;
    const Backends::Chosen chosen = backends_.ConnectionFor(i, now_ns, /*probe=*/true);
    UpstreamConnection* c = chosen.connection;
    if (c == nullptr && chosen.refused) {
      counters.health_checks_failed.fetch_add(1, std::memory_order_relaxed);
      ChargeFailure(i, now_ns);
    }
    if (c == nullptr) continue;  // refused, or every connection full: not now
    // Answered OK by OnReply() whatever the backend said; a failure by the usual paths (the
    // deadline, the connection's failure), which also charge the backend.
    PendingCall& probe = calls_.New(
        [this, i, &counters](absl::StatusOr<std::string> answered) {
          backends_[i].checking = false;
          if (shut_down_) return;  // not the backend's failure
          (answered.ok() ? counters.health_checks_ok : counters.health_checks_failed)
              .fetch_add(1, std::memory_order_relaxed);
        },
        options_.health_check_timeout, now_ns);
    probe.health_check = true;
    b.checking = true;
    Send(probe, c, i, options_.health_check_request, now_ns);
  }
}

}  // namespace upstream
}  // namespace server
