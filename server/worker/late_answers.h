// LateAnswers: what a worker lends its connections' sessions for answers given later (a
// deferred reply, a call on the handler threads), and the deadline each of those requests has
// (--handler_timeout_ms).
//
// A session takes a place in its reply order and a deadline here for each such request, and
// gives the deadline back when the answer comes (server/dispatch/session.h). A request still
// waiting at its deadline is answered DEADLINE_EXCEEDED in its place; the answer that comes
// after is discarded and counted.
//
//   LateAnswers late(options, &loop, &context, &pool, &budget, &stats);
//   Session session(late.services(), ...);
//   late.ExpireDue(now_ns);                  // each turn
//   wake at late.NextDeadlineNs();
//
// Not thread-safe: the worker's loop thread.
#ifndef SERVER_WORKER_LATE_ANSWERS_H_
#define SERVER_WORKER_LATE_ANSWERS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "common/event_loop.h"
#include "handlers/handler.h"
#include "server/config/options.h"
#include "server/dispatch/handler_pool.h"
#include "server/dispatch/request_deadlines.h"
#include "server/dispatch/session.h"
#include "server/memory/memory_budget.h"
#include "server/stats/stats.h"

namespace server {

class LateAnswers {
 public:
  // All pointers are the worker's or the server's and outlive it.
  LateAnswers(const ServerOptions& options, common::EventLoop* loop,
              const handlers::HandlerContext* context, HandlerPool* pool, MemoryBudget* budget,
              WorkerStats* stats, common::LogLimiter* log = nullptr);

  const Session::Services* services() const { return &services_; }

  // Answers DEADLINE_EXCEEDED to each request past its deadline.
  void ExpireDue(int64_t now_ns);
  int64_t NextDeadlineNs() const { return deadlines_.NextDeadlineNs(); }
  // Requests waiting for their answer.
  size_t waiting() const { return deadlines_.size(); }

 private:
  const absl::Duration timeout_;
  RequestDeadlines deadlines_;
  const Session::Services services_;
};

}  // namespace server

#endif  // SERVER_WORKER_LATE_ANSWERS_H_
