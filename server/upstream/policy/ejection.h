// Ejection and Backoff: when an upstream client stops, and starts again, using a backend.
//
// Ejection is one backend's passive health (outlier detection: judged from the calls it
// serves, with no health-check traffic). After `failures_to_eject` consecutive failures
// (connect refused, reset, timeout, bad frame) it is ejected for `base` times 2^(level-1), at
// most `max`, and tried again when that ends. A success resets the consecutive count.
//
// The rules, where the outline above leaves a choice:
//   - level: 1 for the first ejection, and each ejection is one level above the last, less one
//     level for each whole `max` interval that passed between the end of the last ejection
//     and this one. A backend that keeps failing soon after it returns thus backs off further
//     each time (1 s, 2 s, 4 s, ... 30 s), while one that recovered loses its record in a few
//     minutes. The level only matters if the backend fails again, so a slow decay costs a
//     healthy backend nothing. It stops rising where the duration reaches `max`, so that the
//     decay from it is bounded too (6 levels, 3 min, for 1 s and 30 s).
//   - failures while ejected (calls that were in flight when it was ejected, reported later)
//     are ignored: they neither extend the ejection nor count towards the next one.
//     Successes while ejected reset the consecutive count but do not end the ejection early.
//   - after an ejection ends, the count starts from zero: `failures_to_eject` more consecutive
//     failures eject it again.
//
//   Ejection health(options);                 // one per backend
//   if (ok) health.OnSuccess(now_ns);
//   else if (health.OnFailure(now_ns)) ++stats.ejections;
//   usable = !health.ejected(now_ns);          // what the balancer is told
//
// Backoff is the delay before reconnecting after a connection attempt failed: `initial`
// doubling to `max`, with +-20% jitter from a seed so that proxies restarted together do not
// reconnect in lockstep (muduo's Connector: 500 ms doubling to 30 s); Reset() after a
// connection succeeds.
//
//   Backoff backoff(absl::Milliseconds(500), absl::Seconds(30), seed);
//   loop.RunAfter(backoff.Next(), Reconnect);  // on each failed attempt
//   backoff.Reset();                           // once connected
//
// Times are monotonic nanoseconds passed in, never decreasing; neither reads a clock. Not
// thread-safe: one per backend per worker loop.
#ifndef SERVER_UPSTREAM_POLICY_EJECTION_H_
#define SERVER_UPSTREAM_POLICY_EJECTION_H_

#include <cstdint>

#include "absl/time/time.h"

namespace server {
namespace upstream {

class Ejection {
 public:
  struct Options {
    int failures_to_eject = 5;  // at least 1
    absl::Duration base = absl::Seconds(1);  // at least 1 ns
    absl::Duration max = absl::Seconds(30);  // at least `base`
  };

  explicit Ejection(const Options& options);

  void OnSuccess(int64_t now_ns);
  // True if this failure ejected the backend.
  bool OnFailure(int64_t now_ns);

  // An active health check answered: an ejection ends now (true if there was one). Its level
  // stays, decaying from now: a backend that fails again soon is ejected for longer.
  bool Reinstate(int64_t now_ns);

  bool ejected(int64_t now_ns) const { return now_ns < ejected_until_ns_; }
  // When the current (or last) ejection ends; 0 if never ejected.
  int64_t ejected_until_ns() const { return ejected_until_ns_; }
  // Total times ejected (a metric).
  int ejections() const { return ejections_; }
  int consecutive_failures() const { return consecutive_; }
  // The level the last ejection had, less its decay by `now_ns`; 0 if none. An ejection now
  // would have this level plus one.
  int level(int64_t now_ns) const;

 private:
  const int failures_to_eject_;
  const int64_t base_ns_;
  const int64_t max_ns_;
  int max_level_;              // the first level whose duration reaches max_ns_
  int consecutive_ = 0;
  int64_t ejected_until_ns_ = 0;
  int ejections_ = 0;
  int level_ = 0;              // of the last ejection; decays from ejected_until_ns_
};

class Backoff {
 public:
  // `initial` is at least 1 ns; `max` at least `initial`.
  Backoff(absl::Duration initial, absl::Duration max, uint64_t seed);

  // The delay before the next attempt: the current step, jittered by up to 20% either way but
  // never above `max`; then the step doubles, up to `max`.
  absl::Duration Next();
  // Back to `initial` (the jitter's sequence goes on).
  void Reset() { step_ns_ = initial_ns_; }

 private:
  const int64_t initial_ns_;
  const int64_t max_ns_;
  int64_t step_ns_;
  uint64_t state_;  // splitmix64
};

}  // namespace upstream
}  // namespace server

#endif  // SERVER_UPSTREAM_POLICY_EJECTION_H_
