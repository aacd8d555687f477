// The server's statistics: counters kept per thread, summed only when someone asks.
//
// Each worker (and the acceptor) writes only its own counters, with relaxed atomic stores: no
// lock and no shared cache line on the hot path. ServerStats::Snapshot() reads them all from any
// thread and publishes them through the handlers::StatsSource interface, in the names and order
// documented in docs/stats.md.
//
//   ServerStats stats(/*workers=*/2);
//   stats.worker(0).frames_in.Add(1);          // on worker 0's thread only
//   std::vector<handlers::Stat> now = stats.Snapshot();   // any thread
#ifndef SERVER_STATS_STATS_H_
#define SERVER_STATS_STATS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/latency_histogram.h"
#include "handlers/handler.h"
#include "handlers/stats_source.h"
#include "server/memory/memory_budget.h"

namespace server {

// A number written by one thread and read by any.
class Counter {
 public:
  void Add(int64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void Set(int64_t n) { value_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Request latencies of the last minute: six 10-second histograms, recycled as time moves on.
// Record() on the owning thread only; AddTo() from any thread.
class RecentLatency {
 public:
  static constexpr int kSlots = 6;
  static constexpr int64_t kSlotNanos = 10'000'000'000;

  void Record(int64_t now_ns, absl::Duration latency, uint64_t count);
  void AddTo(int64_t now_ns, common::LatencyHistogram::Snapshot* snapshot) const;

 private:
  std::array<common::LatencyHistogram, kSlots> slots_;
  std::array<std::atomic<int64_t>, kSlots> slot_epoch_{};  // which 10 s period a slot holds
};

// Request latency since start-up in fixed buckets, as Prometheus histograms want them (they
// can be summed across workers and servers). One writer, any reader.
class LatencyBuckets {
 public:
  // Upper bounds in seconds; a last bucket (+Inf) takes the rest.
  static constexpr std::array<double, 17> kBoundsSeconds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};

  void Record(absl::Duration latency, uint64_t count);
  // Non-cumulative counts, kBoundsSeconds.size() + 1 of them.
  std::array<uint64_t, kBoundsSeconds.size() + 1> Counts() const;
  double SumSeconds() const { return sum_ns_.load(std::memory_order_relaxed) / 1e9; }

 private:
  std::array<std::atomic<uint64_t>, kBoundsSeconds.size() + 1> counts_{};
  std::atomic<int64_t> sum_ns_{0};
};

struct WorkerStats {
  // Latency of `count` requests answered now: the recent window and the lifetime buckets.
  void RecordLatency(int64_t now_ns, absl::Duration took, uint64_t count) {
    latency.Record(now_ns, took, count);
    latency_buckets.Record(took, count);
  }

  Counter active_connections;
  Counter frames_in;
  Counter frames_out;
  Counter bytes_in;
  Counter bytes_out;
  Counter handler_errors;
  Counter handler_misuse;         // a handler answered two ways, or dropped an answer (handler.h)
  Counter closed_idle_timeout;
  Counter closed_frame_timeout;
  Counter closed_protocol_error;
  Counter reads_paused;
  Counter reads_paused_memory;    // a connection stopped growing: --max_buffer_memory reached
  Counter closed_memory_budget;   // closed for holding the most when the budget was exceeded
  Counter closed_no_memory;       // a frame's memory could not be had
  Counter fairness_yields;
  Counter requests_later;         // requests answered later (deferred or on handler threads)
  Counter requests_overloaded;    // refused at once: the server-wide handler queue was full
  Counter handler_timeouts;       // answered DEADLINE_EXCEEDED (--handler_timeout_ms)
  Counter replies_discarded;  // answers never sent: late, or their connection closed first
  Counter tls_handshakes;              // TLS handshakes completed
  Counter tls_failed_no_certificate;   // a client without the certificate --tls_client_ca requires
  Counter tls_failed_bad_certificate;  // a client certificate that did not verify
  Counter tls_failed_protocol;         // not TLS, no common version or cipher, malformed
  Counter tls_failed_aborted;          // the client closed or reset during its handshake
  Counter pending_output_max;  // largest pending output of this worker's connections, now
  RecentLatency latency;
  LatencyBuckets latency_buckets;
};

struct AcceptorStats {
  Counter accepted;
  Counter rejected_limit;
  Counter accept_pauses;
  Counter peak_connections;  // the most open at once since start-up
};

// Counters that handlers register at start-up (handlers/registry.h). Thread-safe.
class HandlerCounters {
 public:
  handlers::HandlerCounter* Add(absl::string_view handler, absl::string_view name);
  handlers::HandlerGauge* AddGauge(absl::string_view handler, absl::string_view name);
  void AppendTo(std::vector<handlers::Stat>* stats) const;
  // Calls f(handler, name, value) for each counter (gauges: false) or each gauge (true).
  void ForEach(const std::function<void(const std::string&, const std::string&, int64_t)>& f,
               bool gauges = false) const;

 private:
  struct Entry {
    std::string handler;
    std::string name;
    bool is_gauge = false;
    handlers::HandlerCounter counter;  // unless is_gauge
    handlers::HandlerGauge gauge;      // if is_gauge
    int64_t value() const { return is_gauge ? gauge.value() : counter.value(); }
  };
  mutable std::mutex mu_;
  // Stable addresses: handlers keep pointers to their counters.
  std::deque<Entry> counters_;
};

class ServerStats : public handlers::StatsSource {
 public:
  // `budget` is the server's (shown in the snapshot) and must outlive the stats.
  ServerStats(int workers, const MemoryBudget* budget);

  WorkerStats& worker(int index) { return *workers_[index]; }
  const WorkerStats& worker(int index) const { return *workers_[index]; }
  int workers() const { return static_cast<int>(workers_.size()); }
  AcceptorStats& acceptor() { return acceptor_; }
  const AcceptorStats& acceptor() const { return acceptor_; }
  HandlerCounters& handler_counters() { return handler_counters_; }
  const HandlerCounters& handler_counters() const { return handler_counters_; }

  // Connections handed to workers and not yet closed. The acceptor adds, workers subtract.
  std::atomic<int64_t> open_connections{0};
  // Bytes held for connections, against --max_buffer_memory (owned by the server).
  const MemoryBudget& buffer_memory() const { return *budget_; }

  std::vector<handlers::Stat> Snapshot() const override;

 private:
  const MemoryBudget* const budget_;
  const int64_t start_ns_;
  std::vector<std::unique_ptr<WorkerStats>> workers_;  // one allocation each: no false sharing
  AcceptorStats acceptor_;
  HandlerCounters handler_counters_;
};

}  // namespace server

#endif  // SERVER_STATS_STATS_H_
