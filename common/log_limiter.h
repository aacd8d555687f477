// LogLimiter: lets through at most N log lines per second, and says how many it held back.
//
// A client can provoke a log line at will (a bad header, a stalled frame); without a limit a
// flood of such clients turns into a flood of synchronous writes to stderr that slows the
// worker for everyone. Every event is still counted in the stats.
//
//   if (int suppressed; limiter.Allow(now_ns, &suppressed)) {
//     LOG(WARNING) << "closing ...: bad header" << LogLimiter::Note(suppressed);
//   }
//
// Not thread-safe: one per worker.
#ifndef COMMON_LOG_LIMITER_H_
#define COMMON_LOG_LIMITER_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace common {

class LogLimiter {
 public:
  explicit LogLimiter(int lines_per_second) : lines_per_second_(lines_per_second) {}

  // True if a line may be logged now; then *suppressed is how many were held back before it.
  bool Allow(int64_t now_ns, int* suppressed) {
    const int64_t second = now_ns / 1'000'000'000;
    if (second != second_) {
      second_ = second;
      allowed_ = 0;
    }
    if (allowed_ == lines_per_second_) {
      ++suppressed_;
      return false;
    }
    ++allowed_;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

  static std::string Note(int suppressed) {
    return suppressed == 0 ? "" : absl::StrCat(" (", suppressed, " similar lines suppressed)");
  }

 private:
  const int lines_per_second_;
  int64_t second_ = -1;
  int allowed_ = 0;
  int suppressed_ = 0;
};

}  // namespace common

#endif  // COMMON_LOG_LIMITER_H_
