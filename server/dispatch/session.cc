#include "server/dispatch/session.h"

#include <string>
#include <utility>

#include "glog/logging.h"
#include "protocol/buffer.h"
#include "protocol/frame.h"

namespace server {

using handlers::internal::ReplyState;

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
  dispatching_ = true;
  DispatchResult result = DispatchFrames(decoder, *handler_, order_, *output_, this, limits);
  dispatching_ = false;
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
    stats.handler_misuse.Add(result.misused);
  }
  return result;
}

bool Session::Place(uint64_t request, std::string frame, bool is_error, int64_t* started_ns) {
  int released = 0;
  const uint64_t ticket = order_.tag(request);
  if (!order_.Fill(request, std::move(frame), &released, started_ns)) return false;
  services_->deadlines->Remove(ticket);
  services_->stats->frames_out.Add(released);
  if (is_error) services_->stats->handler_errors.Add(1);
  return true;
}

void Session::OnLateAnswer(uint64_t request, std::string frame, bool is_error, bool close_after) {
  // The offloaded call has returned: the connection may go on, whether or not its answer is
  // still wanted.
  const bool returned = request == offloaded_;
  if (returned) offloaded_ = 0;
  int64_t started_ns = 0;
  if (closed_ || !Place(request, std::move(frame), is_error, &started_ns)) {
    services_->stats->replies_discarded.Add(1);  // closed, timed out, or answered at shutdown
    if (returned && !closed_) owner_->OnAnswersPlaced(/*close_after=*/false);
    return;
  }
  // The loop's time of this turn, not a clock read per answer: late answers can come by the
  // thousand in one turn (a proxy's), and a turn is short next to what the histogram tells.
  services_->stats->RecordLatency(now_ns(), absl::Nanoseconds(now_ns() - started_ns), 1);
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
    services_->deadlines->Remove(waiting.tag);
  }
  // Answers held in order behind one still waiting are lost with the connection; the waiting
  // ones are counted when their answers arrive (the link finds the session gone).
  services_->stats->replies_discarded.Add(order_.size() - order_.waiting());
  if (link_) link_->Cut();
}

AnswerLink* Session::Link() {
  if (!link_) {
    link_ = handlers::internal::SinkRef<AnswerLink>(
        new AnswerLink(static_cast<LateAnswerTarget*>(this), services_->loop->tasks(),
                       services_->max_frame_bytes, &services_->stats->replies_discarded,
                       &services_->stats->handler_misuse));
  }
  return link_.get();
}

uint64_t Session::TakePlace() {
  const uint64_t id = order_.Reserve(now_ns());
  order_.set_tag(id, services_->deadlines->Add(this, id, now_ns()));
  return id;
}

handlers::Completion Session::Defer() { return MakeCompletion(Link(), TakePlace()); }

void Session::FailDeferred(uint64_t request, const absl::Status& status) {
  AnswerWaiting(request, status);
}

bool Session::Offload(absl::string_view request, handlers::OffloadedCall call) {
  HandlerPool* const pool = services_->pool;
  if (pool == nullptr || !pool->TryAcquire()) return false;  // given back after the call
  if (shared_handler_ == nullptr) shared_handler_ = std::move(owned_handler_);
  // std::function needs a copyable task; the call's state is shared instead, and given back
  // (the request's copy, its charge to the memory budget, the pool's place) once it is gone.
  struct Call {
    ~Call() {
      // Dropped unrun (the pool stopped first): answered, not abandoned.
      if (!ran) done.Fail(absl::UnavailableError("server shutting down"));
      budget->Charge(-static_cast<int64_t>(request.size()));
      pool->Release();
    }
    std::shared_ptr<handlers::Handler> handler;  // lives until its call has returned
    handlers::OffloadedCall call;
    std::string request;
    handlers::Completion done;
    handlers::internal::SinkRef<AnswerLink> link;  // for a misuse of the call's reply
    uint64_t place = 0;
    MemoryBudget* budget = nullptr;
    HandlerPool* pool = nullptr;
    bool ran = false;
  };
  auto state = std::make_shared<Call>();
  state->handler = shared_handler_;
  state->call = std::move(call);
  state->request = std::string(request);
  offloaded_ = TakePlace();
  state->done = MakeCompletion(Link(), offloaded_);
  state->link = handlers::internal::SinkRef<AnswerLink>(Link());
  state->place = offloaded_;
  state->budget = services_->budget;
  state->pool = pool;
  services_->budget->Charge(static_cast<int64_t>(request.size()));
  pool->Run([state] {
    protocol::Buffer out;
    handlers::Reply reply = ReplyState::Make(&out, nullptr, /*offloaded=*/true);
    absl::Status status = CallOffloaded(state->call, state->request, reply);
    if (absl::string_view misuse = ReplyState::misuse(reply); !misuse.empty()) {
      state->link->Misused(state->place, misuse);  // counted; a debug build stops
      status = handlers::internal::MisuseStatus(misuse);
    }
    state->call = nullptr;  // what the handler's call holds goes before its answer
    state->ran = true;
    if (ReplyState::close_after(reply)) state->done.CloseAfterReply();
    if (status.ok()) {
      state->done.Finish(std::string(out.view()));
    } else {
      state->done.Fail(status);
    }
  });
  return true;
}

}  // namespace server
