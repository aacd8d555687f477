// MonotonicNanos(): the clock the server's timers and latency measurements use.
#ifndef SERVER_CLOCK_H_
#define SERVER_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace server {

inline int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace server

#endif  // SERVER_CLOCK_H_
