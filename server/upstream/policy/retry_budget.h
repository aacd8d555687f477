// RetryBudget: how many retries an upstream client may make.
//
// Bounds retries so that they cannot multiply an outage (Finagle's RetryBudget, Envoy's retry
// budget): over a sliding window, retries may be at most `ratio` of the calls made plus a
// floor of `min_retries` per window, so that at low traffic a lone failure, or the calls in
// flight on one dead backend, are still retried. Without it, a backend that fails every call
// sees each call 1 + max_attempts times just when it can least afford it.
//
//   RetryBudget budget({.ratio = 0.2, .min_retries = 100, .window = absl::Seconds(10)});
//   budget.OnCall(now_ns);                      // each first attempt
//   if (failed && budget.TryRetry(now_ns)) ...  // retry; otherwise fail the call
//
// The window slides by tenths: calls and retries are counted in 10 buckets of window/10, and
// a bucket is forgotten as a whole, so the window covers between 9/10 of `window` and all of
// it. O(1) per call, a few hundred bytes. Times are monotonic nanoseconds, never decreasing.
// Not thread-safe: one per worker loop.
#ifndef SERVER_UPSTREAM_POLICY_RETRY_BUDGET_H_
#define SERVER_UPSTREAM_POLICY_RETRY_BUDGET_H_

#include <array>
#include <cstdint>

#include "absl/time/time.h"

namespace server {
namespace upstream {

class RetryBudget {
 public:
  struct Options {
    double ratio = 0.2;  // retries per call; negative counts as 0
    int min_retries = 100;  // per window, whatever the traffic
    absl::Duration window = absl::Seconds(10);  // at least 10 ns
  };

  explicit RetryBudget(const Options& options);

  // A first attempt was made.
  void OnCall(int64_t now_ns);
  // True: a retry may be made, and it is counted. False: the budget is spent; the caller
  // fails the call instead.
  bool TryRetry(int64_t now_ns);

  int64_t retries_in_window(int64_t now_ns) const;
  int64_t calls_in_window(int64_t now_ns) const;
  // Retries the budget allows in the window now, spent ones included.
  int64_t allowed_in_window(int64_t now_ns) const;

 private:
  static constexpr int kBuckets = 10;

  struct Bucket {
    int64_t epoch = INT64_MIN;  // now_ns / bucket_ns_ of the counts below
    int64_t calls = 0;
    int64_t retries = 0;
  };

  int64_t Epoch(int64_t now_ns) const;
  // The bucket for now, emptied first if it last counted an older epoch.
  Bucket& Current(int64_t now_ns);
  // Sums `field` over the buckets still inside the window.
  int64_t Sum(int64_t now_ns, int64_t Bucket::*field) const;

  const double ratio_;
  const int64_t min_retries_;
  const int64_t bucket_ns_;
  std::array<Bucket, kBuckets> buckets_;
  int last_ = -1;  // OnCall()'s last bucket (an index: copies stay right), of epoch last_epoch_,
                  // which starts at last_start_ns_
  int64_t last_epoch_ = 0;
  int64_t last_start_ns_ = 0;
};

}  // namespace upstream
}  // namespace server

#endif  // SERVER_UPSTREAM_POLICY_RETRY_BUDGET_H_
