// MonotonicNanos(): the one clock the project's timers, deadlines and latency measurements use.
//
//   const int64_t start = common::MonotonicNanos();
//   ...
//   const absl::Duration took = absl::Nanoseconds(common::MonotonicNanos() - start);
#ifndef COMMON_CLOCK_H_
#define COMMON_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace common {

inline int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace common

#endif  // COMMON_CLOCK_H_
