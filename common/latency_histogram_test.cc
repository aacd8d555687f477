#include "common/latency_histogram.h"

#include "gtest/gtest.h"

namespace common {
namespace {

TEST(LatencyHistogramTest, BucketBoundsContainTheirValuesWithinOneSixteenth) {
  for (uint64_t ns : {0ull, 1ull, 15ull, 16ull, 17ull, 1000ull, 123456ull, 999999999ull,
                      (1ull << 40) - 1}) {
    const int bucket = LatencyHistogram::BucketOf(ns);
    const uint64_t upper = LatencyHistogram::BucketUpperBound(bucket);
    EXPECT_GE(upper, ns) << ns;
    EXPECT_LE(upper - ns, ns / 16 + 1) << ns;
    if (bucket > 0) EXPECT_LT(LatencyHistogram::BucketUpperBound(bucket - 1), ns) << ns;
  }
}

TEST(LatencyHistogramTest, PercentilesOfAUniformSpread) {
  LatencyHistogram h;
  for (int us = 1; us <= 1000; ++us) h.Record(absl::Microseconds(us));
  const LatencyHistogram::Snapshot s = h.TakeSnapshot();
  EXPECT_EQ(s.count(), 1000u);
  EXPECT_NEAR(absl::ToDoubleMicroseconds(s.Percentile(50)), 500, 500 / 16.0 + 1);
  EXPECT_NEAR(absl::ToDoubleMicroseconds(s.Percentile(99)), 990, 990 / 16.0 + 1);
  EXPECT_EQ(s.Percentile(100), absl::Microseconds(1000));
  EXPECT_EQ(s.max(), absl::Microseconds(1000));
}

TEST(LatencyHistogramTest, MergeAddsCountsAndResetClears) {
  LatencyHistogram a, b;
  a.Record(absl::Milliseconds(1), 3);
  b.Record(absl::Milliseconds(9));
  LatencyHistogram::Snapshot s = a.TakeSnapshot();
  s.Merge(b.TakeSnapshot());
  EXPECT_EQ(s.count(), 4u);
  EXPECT_EQ(s.max(), absl::Milliseconds(9));
  a.Reset();
  EXPECT_EQ(a.TakeSnapshot().count(), 0u);
  EXPECT_EQ(LatencyHistogram().TakeSnapshot().Percentile(99), absl::ZeroDuration());
}

}  // namespace
}  // namespace common
