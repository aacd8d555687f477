#include "server/upstream/policy/ejection.h"

#include <algorithm>

namespace server {
namespace upstream {
namespace {

constexpr double kJitter = 0.2;

int64_t AtLeast1(absl::Duration d) { return std::max<int64_t>(1, absl::ToInt64Nanoseconds(d)); }

// base * 2^(level-1), at most max, without overflowing.
int64_t DurationNs(int64_t base_ns, int64_t max_ns, int level) {
  int64_t d = base_ns;
  for (int l = 1; l < level && d < max_ns; ++l) d = d > max_ns / 2 ? max_ns : d * 2;
  return std::min(d, max_ns);
}

}  // namespace

Ejection::Ejection(const Options& options)
    : failures_to_eject_(std::max(1, options.failures_to_eject)),
      base_ns_(AtLeast1(options.base)),
      max_ns_(std::max(base_ns_, AtLeast1(options.max))) {
  max_level_ = 1;
  for (int64_t d = base_ns_; d < max_ns_; d = d > max_ns_ / 2 ? max_ns_ : d * 2) ++max_level_;
}

int Ejection::level(int64_t now_ns) const {
  if (level_ == 0 || now_ns <= ejected_until_ns_) return level_;
  const int64_t decayed = (now_ns - ejected_until_ns_) / max_ns_;
  return decayed >= level_ ? 0 : level_ - static_cast<int>(decayed);
}

void Ejection::OnSuccess(int64_t now_ns) { consecutive_ = 0; }

bool Ejection::OnFailure(int64_t now_ns) {
  if (ejected(now_ns)) return false;  // reported by a call made before the ejection
  if (++consecutive_ < failures_to_eject_) return false;
  level_ = std::min(level(now_ns) + 1, max_level_);
  ejected_until_ns_ = now_ns + DurationNs(base_ns_, max_ns_, level_);
  consecutive_ = 0;
  ++ejections_;
  return true;
}

bool Ejection::Reinstate(int64_t now_ns) {
  consecutive_ = 0;
  if (!ejected(now_ns)) return false;
  ejected_until_ns_ = now_ns;
  return true;
}

Backoff::Backoff(absl::Duration initial, absl::Duration max, uint64_t seed)
    : initial_ns_(AtLeast1(initial)),
      max_ns_(std::max(initial_ns_, AtLeast1(max))),
      step_ns_(initial_ns_),
      state_(seed) {}

absl::Duration Backoff::Next() {
  // splitmix64, then the top 53 bits as a double in [0, 1).
  state_ += 0x9E3779B97F4A7C15ull;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) * 0x1.0p-53;
  const double factor = 1.0 - kJitter + 2 * kJitter * u;
  const int64_t delay_ns =
      std::min(max_ns_, static_cast<int64_t>(static_cast<double>(step_ns_) * factor));
  step_ns_ = step_ns_ > max_ns_ / 2 ? max_ns_ : step_ns_ * 2;
  return absl::Nanoseconds(delay_ns);
}

}  // namespace upstream
}  // namespace server
