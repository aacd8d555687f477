#include "server/upstream/policy/retry_budget.h"

#include <algorithm>
#include <cmath>

namespace server {
namespace upstream {
namespace {
// ratio * calls is floored; a hair added first so that 0.2 * 100 counts as 20, not 19.999...
constexpr double kEpsilon = 1e-9;
}  // namespace

RetryBudget::RetryBudget(const Options& options)
    : ratio_(std::max(0.0, options.ratio)),
      min_retries_(std::max(0, options.min_retries)),
      bucket_ns_(std::max<int64_t>(1, absl::ToInt64Nanoseconds(options.window) / kBuckets)) {}

int64_t RetryBudget::Epoch(int64_t now_ns) const {
  // Floor division: a monotonic clock may start below zero in tests.
  int64_t q = now_ns / bucket_ns_;
  if (now_ns % bucket_ns_ < 0) --q;
  return q;
}

RetryBudget::Bucket& RetryBudget::Current(int64_t now_ns) {
  const int64_t epoch = Epoch(now_ns);
  Bucket& b = buckets_[((epoch % kBuckets) + kBuckets) % kBuckets];
  if (b.epoch != epoch) b = Bucket{epoch, 0, 0};
  return b;
}

int64_t RetryBudget::Sum(int64_t now_ns, int64_t Bucket::*field) const {
  const int64_t epoch = Epoch(now_ns);
  int64_t sum = 0;
  for (const Bucket& b : buckets_) {
    if (b.epoch <= epoch && b.epoch > epoch - kBuckets) sum += b.*field;
  }
  return sum;
}

void RetryBudget::OnCall(int64_t now_ns) {
  // Calls come by the thousand per bucket: the previous call's bucket, found with no division,
  // while `now_ns` is in its span and no other epoch has taken it over.
  if (last_ < 0 || now_ns < last_start_ns_ || now_ns - last_start_ns_ >= bucket_ns_ ||
      buckets_[last_].epoch != last_epoch_) {
    last_epoch_ = Epoch(now_ns);
    last_start_ns_ = last_epoch_ * bucket_ns_;
    last_ = static_cast<int>(&Current(now_ns) - buckets_.data());
  }
  ++buckets_[last_].calls;
}

bool RetryBudget::TryRetry(int64_t now_ns) {
  if (retries_in_window(now_ns) >= allowed_in_window(now_ns)) return false;
  ++Current(now_ns).retries;
  return true;
}

int64_t RetryBudget::retries_in_window(int64_t now_ns) const {
  return Sum(now_ns, &Bucket::retries);
}

int64_t RetryBudget::calls_in_window(int64_t now_ns) const {
  return Sum(now_ns, &Bucket::calls);
}

int64_t RetryBudget::allowed_in_window(int64_t now_ns) const {
  const double calls = static_cast<double>(calls_in_window(now_ns));
  const double by_ratio = std::floor(ratio_ * calls + kEpsilon);
  return static_cast<int64_t>(by_ratio) + min_retries_;
}

}  // namespace upstream
}  // namespace server
