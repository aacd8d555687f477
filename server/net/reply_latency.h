// ReplyLatency: a connection's request latency, from the read that brought the oldest
// unanswered bytes to the write that sends their replies, recorded in the worker's stats once
// per write for all the replies it carries (a pipelined burst is one measurement, weighted by
// its replies).
//
//   latency.OnRead();                 // bytes arrived
//   latency.OnReplies(n);             // n replies queued for the next write
//   latency.OnWrite(&stats, settled); // a write; `settled`: nothing complete is unanswered
//
// Not thread-safe: the connection's loop thread.
#ifndef SERVER_NET_REPLY_LATENCY_H_
#define SERVER_NET_REPLY_LATENCY_H_

#include <cstdint>

#include "absl/time/time.h"
#include "common/clock.h"
#include "server/stats/stats.h"

namespace server {

class ReplyLatency {
 public:
  void OnRead() {
    if (since_ns_ == 0) since_ns_ = common::MonotonicNanos();
  }
  void OnReplies(int64_t replies) { replies_ += replies; }
  void OnWrite(WorkerStats* stats, bool settled) {
    if (replies_ > 0) {
      const int64_t now_ns = common::MonotonicNanos();
      stats->RecordLatency(now_ns, absl::Nanoseconds(now_ns - since_ns_), replies_);
      replies_ = 0;
    }
    if (settled) since_ns_ = 0;  // the next read restarts the clock
  }

 private:
  int64_t since_ns_ = 0;  // the read that brought the oldest unanswered bytes; 0: none
  int64_t replies_ = 0;   // replies queued since, whose latency the next write ends
};

}  // namespace server

#endif  // SERVER_NET_REPLY_LATENCY_H_
