// Session: one connection's requests, from frames to replies, with no socket.
//
// It owns the connection's handler instance, the replies held in request order behind ones
// answered later (ReplyOrder), the link through which those answers come back (AnswerLink),
// and the one offloaded call a connection may have on the handler threads at a time. Serve()
// answers the complete frames a decoder holds into the output queue (dispatch.h) and counts
// them; an answer given later is placed in its turn on the loop thread, and the session's
// owner (the connection) is told, so that it writes it.
//
//   Session session(&services, &served, id, &output, &owner);
//   session.Start(info);                          // makes the handler instance
//   DispatchResult r = session.Serve(decoder, limits);
//   ...
//   session.Close();                              // later answers are discarded (and counted)
//
// Thread rule: the loop thread, except the offloaded call (a handler thread) and the
// completions a handler holds (AnswerLink).
#ifndef SERVER_DISPATCH_SESSION_H_
#define SERVER_DISPATCH_SESSION_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/event_loop.h"
#include "common/log_limiter.h"
#include "handlers/handler.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"
#include "server/dispatch/answer_link.h"
#include "server/dispatch/dispatch.h"
#include "server/dispatch/handler_pool.h"
#include "server/dispatch/reply_order.h"
#include "server/dispatch/request_deadlines.h"
#include "server/dispatch/served_handler.h"
#include "server/memory/memory_budget.h"
#include "server/stats/stats.h"

namespace server {

class Session : public RequestDeadlines::Holder, private LaterAnswers, private LateAnswerTarget {
 public:
  // What a worker lends its sessions; not owned, outlives them.
  struct Services {
    common::EventLoop* loop;                   // answers come back here; its now_ns() is "now"
    const handlers::HandlerContext* context;   // given to each handler instance
    HandlerPool* pool;                         // the handler threads
    RequestDeadlines* deadlines;               // --handler_timeout_ms
    MemoryBudget* budget;                      // charged for requests copied for the pool
    WorkerStats* stats;
    uint32_t max_frame_bytes;
    common::LogLimiter* log = nullptr;         // client-provoked warnings; null: not limited
  };

  class Owner {
   public:
    virtual ~Owner() = default;
    // On the loop thread: answers given later have reached the output queue or their place
    // (written by the owner), or an offloaded call has returned; `close_after` if the handler
    // asked to close after its reply.
    virtual void OnAnswersPlaced(bool close_after) = 0;
  };

  Session(const Services* services, const ServedHandler* served, uint64_t id,
          protocol::OutputQueue* output, Owner* owner);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Makes the handler instance for the connection `info` describes. Nothing is served before.
  void Start(handlers::ConnectionInfo info);
  bool started() const { return handler_ != nullptr; }

  // Answers the complete frames `decoder` holds, within `limits` (dispatch.h), then keeps what
  // is left of its input (Retain). A bad header, or a frame whose memory could not be had,
  // stops it with kProtocolError: logged (rate-limited) and counted.
  DispatchResult Serve(protocol::FrameDecoder& decoder, const DispatchLimits& limits);

  // Answers a request still waiting with an error reply in its place (its deadline passed).
  void AnswerWaiting(uint64_t request, const absl::Status& status);
  // The same for every request still waiting (the shutdown grace is over).
  void AnswerAllWaiting(const absl::Status& status);

  // The connection has closed: answers that come later are discarded, and the replies held
  // behind one still waiting are counted as discarded. Idempotent.
  void Close();

  // Replies are neither waiting nor held: what is answered is in the output queue.
  bool empty() const { return order_.empty(); }
  // Requests taken and not yet in the output queue (the in-flight bound counts these).
  size_t places() const { return order_.size(); }
  size_t held_bytes() const { return order_.held_bytes(); }
  uint64_t id() const { return id_; }
  // An offloaded call has not returned: the connection's later requests wait for it.
  bool Offloading() const override { return offloaded_ != 0; }

 private:
  // LaterAnswers, for DispatchFrames.
  handlers::Completion Defer() override;
  bool Offload(absl::string_view request, handlers::OffloadedCall call) override;
  void FailDeferred(uint64_t request, const absl::Status& status) override;
  // LateAnswerTarget, for the link.
  void OnLateAnswer(uint64_t request, std::string frame, bool is_error, bool close_after) override;
  bool dispatching() const override { return dispatching_; }
  // RequestDeadlines::Holder.
  void Retag(uint64_t id, uint64_t ticket) override { order_.set_tag(id, ticket); }

  // Puts an answer in its place and counts what that released. False if the place no longer
  // waits (answered already, timed out, answered at shutdown).
  bool Place(uint64_t request, std::string frame, bool is_error, int64_t* started_ns);
  uint64_t TakePlace();  // in the reply order, with a deadline
  AnswerLink* Link();
  int64_t now_ns() const { return services_->loop->now_ns(); }

  const Services* const services_;
  const ServedHandler* const served_;
  const uint64_t id_;
  Owner* const owner_;
  protocol::OutputQueue* const output_;  // the connection's
  ReplyOrder order_;
  std::string peer_;                                   // for log lines
  handlers::Handler* handler_ = nullptr;               // one of the two below
  std::unique_ptr<handlers::Handler> owned_handler_;   // until an offloaded call shares it
  std::shared_ptr<handlers::Handler> shared_handler_;  // with calls that may outlive the session
  handlers::internal::SinkRef<AnswerLink> link_;
  uint64_t offloaded_ = 0;  // the place of the offloaded call not yet returned; 0: none
  bool closed_ = false;
  bool dispatching_ = false;  // inside DispatchFrames: the handler's Handle() may be running
};

}  // namespace server

#endif  // SERVER_DISPATCH_SESSION_H_
