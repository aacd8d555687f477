#include "server/worker/late_answers.h"

#include "absl/strings/str_cat.h"

namespace server {

LateAnswers::LateAnswers(const ServerOptions& options, common::EventLoop* loop,
                         const handlers::HandlerContext* context, HandlerPool* pool,
                         MemoryBudget* budget, WorkerStats* stats, common::LogLimiter* log)
    : timeout_(options.handler_timeout),
      deadlines_(options.handler_timeout),
      services_{loop, context, pool, &deadlines_, budget, stats, options.max_frame_bytes, log} {}

void LateAnswers::ExpireDue(int64_t now_ns) {
  deadlines_.Expire(now_ns, [this](RequestDeadlines::Holder* holder, uint64_t request) {
    Session* session = static_cast<Session*>(holder);  // the only holders are sessions
    services_.stats->handler_timeouts.Add(1);
    session->AnswerWaiting(
        request, absl::DeadlineExceededError(absl::StrCat(
                     "no answer within --handler_timeout_ms=", absl::ToInt64Milliseconds(timeout_))));
  });
}

}  // namespace server
