// ConnectionAnswers: how one connection's requests are answered when not answered inline.
//
// DispatchFrames() calls it for a handler's Reply::Defer() and for each request of a blocking
// handler. Either way the request takes its place in the connection's ReplyOrder, gets a
// deadline (--handler_timeout_ms), and its answer comes back through the connection's link
// (made here on first use). Blocking requests become tasks on the HandlerPool.
//
//   ConnectionAnswers later(services, c, now_ns);
//   DispatchResult r = c->Serve(limits, &later);
//
// Loop thread only; a short-lived object made for one Serve() call.
#ifndef SERVER_LATER_ANSWERS_H_
#define SERVER_LATER_ANSWERS_H_

#include <cstdint>
#include <memory>

#include "common/event_loop.h"
#include "server/connection.h"
#include "server/connection_link.h"
#include "server/dispatch.h"
#include "server/handler_pool.h"
#include "server/memory/memory_budget.h"
#include "server/request_deadlines.h"

namespace server {

// What a worker lends its connections for answers given later. Not owned.
struct LaterAnswerServices {
  HandlerPool* pool;
  RequestDeadlines* deadlines;
  common::EventLoop* loop;
  LateReplyReceiver* receiver;
  uint32_t max_frame_bytes;
  MemoryBudget* budget;  // charged for requests queued for the handler threads
};

class ConnectionAnswers : public LaterAnswers {
 public:
  ConnectionAnswers(const LaterAnswerServices& services, Connection* c, int64_t now_ns)
      : services_(services), c_(c), now_ns_(now_ns) {}

  handlers::Completion Defer() override;
  bool RunBlocking(absl::string_view request) override;
  bool BlockingCallsPending() override { return c_->blocking_calls_pending(); }

 private:
  uint64_t TakePlace();  // in the reply order, with a deadline
  const std::shared_ptr<ConnectionLink>& Link();

  const LaterAnswerServices& services_;
  Connection* const c_;
  const int64_t now_ns_;
};

}  // namespace server

#endif  // SERVER_LATER_ANSWERS_H_
