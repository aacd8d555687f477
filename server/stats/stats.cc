#include "server/stats/stats.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace server {

void RecentLatency::Record(int64_t now_ns, absl::Duration latency, uint64_t count) {
  const int64_t epoch = now_ns / kSlotNanos;
  const int slot = static_cast<int>(epoch % kSlots);
  if (slot_epoch_[slot].load(std::memory_order_relaxed) != epoch) {
    slots_[slot].Reset();  // the slot held a period older than the window
    slot_epoch_[slot].store(epoch, std::memory_order_relaxed);
  }
  slots_[slot].Record(latency, count);
}

void RecentLatency::AddTo(int64_t now_ns, common::LatencyHistogram::Snapshot* snapshot) const {
  const int64_t epoch = now_ns / kSlotNanos;
  for (int slot = 0; slot < kSlots; ++slot) {
    if (epoch - slot_epoch_[slot].load(std::memory_order_relaxed) < kSlots) {
      slots_[slot].AddTo(snapshot);
    }
  }
}

ServerStats::ServerStats(int workers, const MemoryBudget* budget)
    : budget_(budget), start_ns_(common::MonotonicNanos()) {
  for (int i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerStats>());
}

namespace {

// Per-worker counters published as the sum over workers, in this order (docs/stats.md).
constexpr std::pair<const char*, Counter WorkerStats::*> kWorkerCounters[] = {
    {"connections_active", &WorkerStats::active_connections},
    {"connections_closed_idle_timeout", &WorkerStats::closed_idle_timeout},
    {"connections_closed_frame_timeout", &WorkerStats::closed_frame_timeout},
    {"connections_closed_protocol_error", &WorkerStats::closed_protocol_error},
    {"connections_closed_memory_budget", &WorkerStats::closed_memory_budget},
    {"connections_closed_no_memory", &WorkerStats::closed_no_memory},
    {"frames_in", &WorkerStats::frames_in},
    {"frames_out", &WorkerStats::frames_out},
    {"bytes_in", &WorkerStats::bytes_in},
    {"bytes_out", &WorkerStats::bytes_out},
    {"handler_errors", &WorkerStats::handler_errors},
    {"handler_misuse", &WorkerStats::handler_misuse},
    {"reads_paused_backpressure", &WorkerStats::reads_paused},
    {"reads_paused_memory", &WorkerStats::reads_paused_memory},
    {"fairness_yields", &WorkerStats::fairness_yields},
    {"requests_answered_later", &WorkerStats::requests_later},
    {"requests_rejected_overload", &WorkerStats::requests_overloaded},
    {"requests_timed_out", &WorkerStats::handler_timeouts},
    {"replies_discarded", &WorkerStats::replies_discarded},
    {"tls_handshakes", &WorkerStats::tls_handshakes},
    {"tls_handshakes_failed_no_certificate", &WorkerStats::tls_failed_no_certificate},
    {"tls_handshakes_failed_bad_certificate", &WorkerStats::tls_failed_bad_certificate},
    {"tls_handshakes_failed_protocol", &WorkerStats::tls_failed_protocol},
    {"tls_handshakes_failed_aborted", &WorkerStats::tls_failed_aborted},
};

}  // namespace

std::vector<handlers::Stat> ServerStats::Snapshot() const {
  const int64_t now_ns = common::MonotonicNanos();
  std::vector<handlers::Stat> stats = {
      {"uptime_seconds", (now_ns - start_ns_) / 1'000'000'000},
      {"workers", static_cast<int64_t>(workers_.size())},
      {"connections_accepted", acceptor_.accepted.value()},
      {"connections_rejected_limit", acceptor_.rejected_limit.value()},
      {"accept_pauses_fd_limit", acceptor_.accept_pauses.value()},
  };
  for (const auto& [name, counter] : kWorkerCounters) {
    int64_t sum = 0;
    for (const auto& worker : workers_) sum += ((*worker).*counter).value();
    stats.push_back({name, sum});
  }
  int64_t pending_output_max = 0;
  common::LatencyHistogram::Snapshot latency;
  for (const auto& worker : workers_) {
    pending_output_max = std::max(pending_output_max, worker->pending_output_max.value());
    worker->latency.AddTo(now_ns, &latency);
  }
  auto micros = [](absl::Duration d) { return absl::ToInt64Microseconds(d); };
  stats.insert(stats.end(), {
      {"pending_output_bytes_max", pending_output_max},
      {"buffer_memory_bytes", budget_->used()},
      {"buffer_memory_limit_bytes", budget_->limit()},
      {"latency_window_seconds", RecentLatency::kSlots * RecentLatency::kSlotNanos / 1'000'000'000},
      {"latency_window_frames", static_cast<int64_t>(latency.count())},
      {"latency_p50_us", micros(latency.Percentile(50))},
      {"latency_p90_us", micros(latency.Percentile(90))},
      {"latency_p99_us", micros(latency.Percentile(99))},
      {"latency_max_us", micros(latency.max())},
  });
  for (size_t i = 0; i < workers_.size(); ++i) {
    stats.push_back({absl::StrCat("worker_active_connections{worker=\"", i, "\"}"),
                     workers_[i]->active_connections.value()});
  }
  handler_counters_.AppendTo(&stats);
  return stats;
}

handlers::HandlerCounter* HandlerCounters::Add(absl::string_view handler, absl::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = counters_.emplace_back();
  entry.handler = std::string(handler);
  entry.name = std::string(name);
  return &entry.counter;
}

handlers::HandlerGauge* HandlerCounters::AddGauge(absl::string_view handler,
                                                  absl::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = counters_.emplace_back();
  entry.handler = std::string(handler);
  entry.name = std::string(name);
  entry.is_gauge = true;
  return &entry.gauge;
}

void HandlerCounters::AppendTo(std::vector<handlers::Stat>* stats) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : counters_) {
    stats->push_back({absl::StrCat("handler_", e.handler, "_", e.name), e.value()});
  }
}

void HandlerCounters::ForEach(
    const std::function<void(const std::string&, const std::string&, int64_t)>& f,
    bool gauges) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : counters_) {
    if (e.is_gauge == gauges) f(e.handler, e.name, e.value());
  }
}

namespace {

// The bounds in nanoseconds: a latency is placed by integer comparisons, not a Duration turned
// into a double (absl's division was 0.7% of a proxy's CPU, recording every late answer).
constexpr std::array<int64_t, LatencyBuckets::kBoundsSeconds.size()> BoundsNs() {
  std::array<int64_t, LatencyBuckets::kBoundsSeconds.size()> ns{};
  for (size_t i = 0; i < ns.size(); ++i) {
    ns[i] = static_cast<int64_t>(LatencyBuckets::kBoundsSeconds[i] * 1e9 + 0.5);
  }
  return ns;
}
constexpr std::array<int64_t, LatencyBuckets::kBoundsSeconds.size()> kBoundsNs = BoundsNs();

}  // namespace

void LatencyBuckets::Record(absl::Duration latency, uint64_t count) {
  const int64_t ns = absl::ToInt64Nanoseconds(latency);
  size_t i = 0;
  while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
  counts_[i].store(counts_[i].load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
  sum_ns_.store(sum_ns_.load(std::memory_order_relaxed) + ns * static_cast<int64_t>(count),
                std::memory_order_relaxed);
}

std::array<uint64_t, LatencyBuckets::kBoundsSeconds.size() + 1> LatencyBuckets::Counts() const {
  std::array<uint64_t, kBoundsSeconds.size() + 1> counts;
  for (size_t i = 0; i < counts.size(); ++i) counts[i] = counts_[i].load(std::memory_order_relaxed);
  return counts;
}

}  // namespace server
