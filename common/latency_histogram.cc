#include "common/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace common {

int LatencyHistogram::BucketOf(uint64_t ns) {
  if (ns < kSubBuckets) return static_cast<int>(ns);
  const int exponent = 63 - __builtin_clzll(ns);  // ns >= 16, so exponent >= 4
  const int shift = exponent - kSubBucketBits;
  const int bucket = (shift + 1) * kSubBuckets + static_cast<int>((ns >> shift) - kSubBuckets);
  return std::min(bucket, kBuckets - 1);
}

uint64_t LatencyHistogram::BucketUpperBound(int bucket) {
  if (bucket < kSubBuckets) return bucket;
  const int shift = bucket / kSubBuckets - 1;
  const uint64_t mantissa = kSubBuckets + bucket % kSubBuckets;
  return ((mantissa + 1) << shift) - 1;
}

void LatencyHistogram::Record(absl::Duration duration, uint64_t count) {
  const int64_t ns = std::max<int64_t>(0, absl::ToInt64Nanoseconds(duration));
  Add(counts_[BucketOf(static_cast<uint64_t>(ns))], count);
  if (static_cast<uint64_t>(ns) > max_ns_.load(std::memory_order_relaxed)) {
    max_ns_.store(static_cast<uint64_t>(ns), std::memory_order_relaxed);
  }
}

void LatencyHistogram::Reset() {
  for (std::atomic<uint64_t>& c : counts_) c.store(0, std::memory_order_relaxed);
  max_ns_.store(0, std::memory_order_relaxed);
}

void LatencyHistogram::AddTo(Snapshot* snapshot) const {
  for (int i = 0; i < kBuckets; ++i) {
    const uint64_t c = counts_[i].load(std::memory_order_relaxed);
    snapshot->counts_[i] += c;
    snapshot->count_ += c;
  }
  snapshot->max_ns_ = std::max(snapshot->max_ns_, max_ns_.load(std::memory_order_relaxed));
}

LatencyHistogram::Snapshot LatencyHistogram::TakeSnapshot() const {
  Snapshot snapshot;
  AddTo(&snapshot);
  return snapshot;
}

void LatencyHistogram::Snapshot::Merge(const Snapshot& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ns_ = std::max(max_ns_, other.max_ns_);
}

absl::Duration LatencyHistogram::Snapshot::Percentile(double percentile) const {
  if (count_ == 0) return absl::ZeroDuration();
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(percentile / 100.0 * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return absl::Nanoseconds(std::min(BucketUpperBound(i), max_ns_));
    }
  }
  return max();
}

}  // namespace common
