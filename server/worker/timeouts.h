// Timeouts: a worker's idle and incomplete-frame timers (--idle_timeout_ms, --frame_timeout_ms).
//
// Every connection of a worker has the same two timeouts, so each timer is a list ordered by
// start time (common/timer_list.h) and only its oldest entry is ever looked at. The idle timer
// restarts with any traffic; the frame timer runs while a connection has started a frame (or a
// TLS handshake) and not completed it, so a client that trickles bytes cannot hold memory
// forever.
//
//   Timeouts timeouts(options, &stats, &log_limiter);
//   timeouts.Touch(c, now);                        // traffic
//   timeouts.FrameProgress(c, incomplete, started, now);
//   timeouts.Expire(now);                          // closes the connections past either
//   wake at timeouts.NextDeadlineNs();
//
// Not thread-safe: the worker's loop thread.
#ifndef SERVER_WORKER_TIMEOUTS_H_
#define SERVER_WORKER_TIMEOUTS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "common/log_limiter.h"
#include "common/timer_list.h"
#include "server/net/connection.h"
#include "server/stats/stats.h"

namespace server {

class Timeouts {
 public:
  Timeouts(absl::Duration idle, absl::Duration frame, WorkerStats* stats, common::LogLimiter* log);

  // `c` moved bytes at `now_ns`: its idle timer restarts.
  void Touch(Connection* c, int64_t now_ns) { idle_.Touch(&c->hooks().idle, now_ns); }
  // Whether `c` holds an incomplete frame; `started`: a new one began (the timer restarts).
  void FrameProgress(Connection* c, bool incomplete, bool started, int64_t now_ns);
  // `c` has closed.
  static void Forget(Connection* c);

  // Closes the connections whose idle or frame timer has run out.
  void Expire(int64_t now_ns);
  // When the next timer runs out (common::EventLoop::kNoDeadline if none runs).
  int64_t NextDeadlineNs() const;

 private:
  const int64_t idle_ns_;
  const int64_t frame_ns_;
  const absl::Duration frame_timeout_;
  WorkerStats* const stats_;
  common::LogLimiter* const log_;
  common::TimerList<Connection> idle_;
  common::TimerList<Connection> frame_;
};

}  // namespace server

#endif  // SERVER_WORKER_TIMEOUTS_H_
