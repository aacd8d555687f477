#include "server/dispatch/session.h"

#include <string>
#include <utility>

#include "protocol/buffer.h"
#include "common/clock.h"
#include "glog/logging.h"
#include "protocol/frame.h"
#include "server/dispatch/serial_calls.h"

namespace server {

Session::Session(const Services* services, const ServedHandler* served, uint64_t id,
                 protocol::OutputQueue* output, Owner* owner)
    : services_(services), served_(served), id_(id), owner_(owner), output_(output), order_(output) {}

Session::~Session() { Close(); }

void Session::Start(handlers::ConnectionInfo info) {
  handlers::HandlerContext context = *services_->context;
  peer_ = info.peer;
  context.connection = std::move(info);
  owned_handler_ = served_->factory(context);
  handler_ = owned_handler_.get();
}

DispatchResult Session::Serve(protocol::FrameDecoder& decoder, const DispatchLimits& limits) {
  DispatchLimits with_handler = limits;
  with_handler.blocking = served_->blocking;
  DispatchResult result = DispatchFrames(decoder, *handler_, order_, *output_, this, with_handler);
  decoder.Retain();  // the shared read buffer is about to serve another connection
  if (!decoder.status().ok() && result.stopped != StopReason::kProtocolError) {
    // Retain() could not have the memory for the frame that follows: the stream ends there.
    result.stopped = StopReason::kProtocolError;
    result.error = decoder.status();
  }
  WorkerStats& stats = *services_->stats;
  if (result.stopped == StopReason::kProtocolError) {
    if (int suppressed = 0; services_->log == nullptr || services_->log->Allow(now_ns(), &suppressed)) {
      LOG(WARNING) << "closing " << peer_ << ": " << result.error.message()
                   << common::LogLimiter::Note(suppressed);
    }
    // A frame whose memory could not be had ends the stream the same way, counted apart.
    (absl::IsResourceExhausted(result.error) ? stats.closed_no_memory
                                             : stats.closed_protocol_error).Add(1);
  }
  if (result.frames > 0) {
    stats.frames_in.Add(result.frames);
    stats.frames_out.Add(result.replies);
    stats.handler_errors.Add(result.handler_errors);
    stats.requests_overloaded.Add(result.overloaded);
    stats.requests_later.Add(result.later);
  }
  return result;
}

bool Session::Place(uint64_t request, std::string frame, bool is_error, int64_t* started_ns) {
  int released = 0;
  if (!order_.Fill(request, std::move(frame), &released, started_ns)) return false;
  services_->deadlines->Remove(id_, request, *started_ns);
  services_->stats->frames_out.Add(released);
  if (is_error) services_->stats->handler_errors.Add(1);
  return true;
}

void Session::OnLateAnswer(uint64_t request, std::string frame, bool is_error, bool close_after) {
  int64_t started_ns = 0;
  if (closed_ || !Place(request, std::move(frame), is_error, &started_ns)) {
    services_->stats->replies_discarded.Add(1);  // closed, timed out, or answered at shutdown
    return;
  }
  services_->stats->RecordLatency(now_ns(),
                                  absl::Nanoseconds(common::MonotonicNanos() - started_ns), 1);
  owner_->OnAnswersPlaced(close_after);
}

void Session::AnswerWaiting(uint64_t request, const absl::Status& status) {
  protocol::Buffer frame;
  protocol::AppendErrorFrame(status, &frame);
  int64_t started_ns = 0;
  if (Place(request, std::string(frame.view()), /*is_error=*/true, &started_ns)) {
    owner_->OnAnswersPlaced(/*close_after=*/false);
  }
}

void Session::AnswerAllWaiting(const absl::Status& status) {
  for (const ReplyOrder::Waiting& waiting : order_.WaitingPlaces()) {
    AnswerWaiting(waiting.id, status);
  }
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  for (const ReplyOrder::Waiting& waiting : order_.WaitingPlaces()) {
    services_->deadlines->Remove(id_, waiting.id, waiting.started_ns);
  }
  // Answers held in order behind one still waiting are lost with the connection; the waiting
  // ones are counted when their answers arrive (the link finds the session gone).
  services_->stats->replies_discarded.Add(order_.size() - order_.waiting());
  if (link_ != nullptr) link_->Cut();
}

const std::shared_ptr<AnswerLink>& Session::Link() {
  if (link_ == nullptr) {
    link_ = std::make_shared<AnswerLink>(static_cast<LateAnswerTarget*>(this), services_->loop->tasks(),
                                         services_->max_frame_bytes,
                                         &services_->stats->replies_discarded);
  }
  return link_;
}

uint64_t Session::TakePlace() {
  const uint64_t id = order_.Reserve(now_ns());
  services_->deadlines->Add(this, id_, id, now_ns());
  return id;
}

handlers::Completion Session::Defer() { return handlers::Completion(Link(), TakePlace()); }

bool Session::BlockingCallsPending() {
  return serial_calls_ != nullptr && !serial_calls_->idle();
}

bool Session::RunBlocking(absl::string_view request) {
  if (!services_->pool->TryAcquire()) return false;  // given back by SerialCalls after the call
  if (shared_handler_ == nullptr) shared_handler_ = std::move(owned_handler_);
  if (serial_calls_ == nullptr) serial_calls_ = std::make_shared<SerialCalls>(services_->pool);
  // std::function needs a copyable task; the call's state is shared instead.
  struct Call {
    std::shared_ptr<handlers::Handler> handler;
    std::string request;
    handlers::Completion done;
  };
  auto call = std::make_shared<Call>(
      Call{shared_handler_, std::string(request), handlers::Completion(Link(), TakePlace())});
  // The request's copy counts against the memory budget until its call has run.
  const int64_t held = static_cast<int64_t>(request.size());
  MemoryBudget* budget = services_->budget;
  budget->Charge(held);
  serial_calls_->Add([call, held, budget] {
    protocol::Buffer out;
    handlers::Reply reply(&out);
    const absl::Status status = CallHandler(*call->handler, call->request, reply);
    if (reply.close_after()) call->done.CloseAfterReply();
    if (status.ok()) {
      call->done.Finish(std::string(out.view()));
    } else {
      call->done.Fail(status);
    }
    budget->Charge(-held);
  });
  return true;
}

}  // namespace server
