#include "server/stats.h"

#include "absl/strings/str_cat.h"
#include "server/clock.h"

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

ServerStats::ServerStats(int workers) : start_ns_(MonotonicNanos()) {
  for (int i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerStats>());
}

std::vector<handlers::Stat> ServerStats::Snapshot() const {
  const int64_t now_ns = MonotonicNanos();
  WorkerStats sum;  // reused only as a set of plain accumulators
  common::LatencyHistogram::Snapshot latency;
  int64_t pending_output_max = 0;
  for (const auto& w : workers_) {
    sum.active_connections.Add(w->active_connections.value());
    sum.frames_in.Add(w->frames_in.value());
    sum.frames_out.Add(w->frames_out.value());
    sum.bytes_in.Add(w->bytes_in.value());
    sum.bytes_out.Add(w->bytes_out.value());
    sum.handler_errors.Add(w->handler_errors.value());
    sum.closed_idle_timeout.Add(w->closed_idle_timeout.value());
    sum.closed_frame_timeout.Add(w->closed_frame_timeout.value());
    sum.closed_protocol_error.Add(w->closed_protocol_error.value());
    sum.reads_paused.Add(w->reads_paused.value());
    sum.fairness_yields.Add(w->fairness_yields.value());
    pending_output_max = std::max(pending_output_max, w->pending_output_max.value());
    w->latency.AddTo(now_ns, &latency);
  }
  auto micros = [](absl::Duration d) { return absl::ToInt64Microseconds(d); };
  std::vector<handlers::Stat> stats = {
      {"uptime_seconds", (now_ns - start_ns_) / 1'000'000'000},
      {"workers", static_cast<int64_t>(workers_.size())},
      {"connections_active", sum.active_connections.value()},
      {"connections_accepted", acceptor_.accepted.value()},
      {"connections_rejected_limit", acceptor_.rejected_limit.value()},
      {"connections_closed_idle_timeout", sum.closed_idle_timeout.value()},
      {"connections_closed_frame_timeout", sum.closed_frame_timeout.value()},
      {"connections_closed_protocol_error", sum.closed_protocol_error.value()},
      {"accept_pauses_fd_limit", acceptor_.accept_pauses.value()},
      {"frames_in", sum.frames_in.value()},
      {"frames_out", sum.frames_out.value()},
      {"bytes_in", sum.bytes_in.value()},
      {"bytes_out", sum.bytes_out.value()},
      {"handler_errors", sum.handler_errors.value()},
      {"reads_paused_backpressure", sum.reads_paused.value()},
      {"pending_output_bytes_max", pending_output_max},
      {"fairness_yields", sum.fairness_yields.value()},
      {"latency_window_seconds", RecentLatency::kSlots * RecentLatency::kSlotNanos / 1'000'000'000},
      {"latency_window_frames", static_cast<int64_t>(latency.count())},
      {"latency_p50_us", micros(latency.Percentile(50))},
      {"latency_p90_us", micros(latency.Percentile(90))},
      {"latency_p99_us", micros(latency.Percentile(99))},
      {"latency_max_us", micros(latency.max())},
  };
  for (size_t i = 0; i < workers_.size(); ++i) {
    stats.push_back({absl::StrCat("worker_active_connections{worker=\"", i, "\"}"),
                     workers_[i]->active_connections.value()});
  }
  return stats;
}

}  // namespace server
