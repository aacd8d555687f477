// LatencyHistogram: counts durations in log-linear buckets, for percentiles with bounded error.
//
// Each power of two is split into 16 buckets, so a reported percentile is within 1/16 (6.25%)
// above the true value; durations from 1 ns to about 18 minutes fit in 608 counters (under 5 KiB).
//
//   LatencyHistogram h;
//   h.Record(absl::Microseconds(120));
//   LatencyHistogram::Snapshot s = h.TakeSnapshot();
//   absl::Duration p99 = s.Percentile(99);
//
// Thread rule: Record() and Reset() from one thread (the owner) only; TakeSnapshot() from any
// thread at any time (counters are relaxed atomics, so a concurrent snapshot is approximate,
// never torn or racy).
#ifndef COMMON_LATENCY_HISTOGRAM_H_
#define COMMON_LATENCY_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace common {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 4;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kBuckets = (41 - kSubBucketBits + 1) * kSubBuckets;

  // A plain copy of the counts; can be merged and queried.
  class Snapshot {
   public:
    void Merge(const Snapshot& other);
    uint64_t count() const { return count_; }
    absl::Duration max() const { return absl::Nanoseconds(max_ns_); }
    // The smallest bucket bound at or above `percentile` (0..100) of the recorded durations.
    absl::Duration Percentile(double percentile) const;

   private:
    friend class LatencyHistogram;
    std::array<uint64_t, kBuckets> counts_{};
    uint64_t count_ = 0;
    uint64_t max_ns_ = 0;
  };

  // Records `count` events that each took `duration`.
  void Record(absl::Duration duration, uint64_t count = 1);
  void Reset();
  Snapshot TakeSnapshot() const;
  // Adds this histogram's counts to `snapshot`.
  void AddTo(Snapshot* snapshot) const;

  static int BucketOf(uint64_t ns);
  static uint64_t BucketUpperBound(int bucket);

 private:
  // Single writer: load + store instead of an atomic read-modify-write.
  static void Add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> max_ns_{0};
};

}  // namespace common

#endif  // COMMON_LATENCY_HISTOGRAM_H_
