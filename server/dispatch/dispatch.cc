#include "server/dispatch/dispatch.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "protocol/frame.h"

namespace server {
namespace {

using State = handlers::internal::ReplyState;

absl::Status ReplyTooLarge(size_t size, uint32_t max_frame_bytes) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "reply of ", size, " bytes exceeds --max_frame_bytes=", max_frame_bytes));
}

// How a request was answered on the loop: a reply appended, a reply promised for later (the
// handler deferred it, or its answer was placed by a misuse), a call to hand to the handler
// threads, or an error reply appended.
enum class Inline { kAnswered, kDeferred, kOffloaded, kFailed };

struct Answered {
  Inline how = Inline::kAnswered;
  bool close_after = false;
  bool misused = false;
  handlers::OffloadedCall offload;  // kOffloaded
};

// Answers one request on the loop, appending its reply frame to `out` unless it comes later.
Answered AnswerInline(absl::string_view request, handlers::Handler& handler,
                      protocol::Buffer& out, LaterAnswers* later, uint32_t max_frame_bytes) {
  Answered answered;
  const size_t start = protocol::BeginFrame(&out);
  handlers::Reply reply = State::Make(&out, later, /*offloaded=*/false);
  absl::Status status = CallHandler(handler, request, reply);
  answered.close_after = State::close_after(reply);
  if (absl::string_view misuse = State::misuse(reply); !misuse.empty()) {
    answered.misused = true;
    out.Truncate(start);
    status = MisuseError(misuse);
    if (State::deferred(reply) && later != nullptr) {
      // The place is taken: the error goes there now, and the completion is discarded later.
      later->FailDeferred(State::deferred_request(reply), status);
      answered.how = Inline::kDeferred;
      return answered;
    }
    protocol::AppendErrorFrame(status, &out);
    answered.how = Inline::kFailed;
    return answered;
  }
  if (State::deferred(reply)) {
    // The answer comes later, in its reserved place: from the completion, or an INTERNAL
    // error if the handler failed after deferring and dropped it.
    out.Truncate(start);
    answered.how = Inline::kDeferred;
    return answered;
  }
  if (status.ok() && State::offloaded(reply)) {
    out.Truncate(start);
    answered.offload = State::TakeOffload(reply);
    answered.how = Inline::kOffloaded;
    return answered;
  }
  if (status.ok() && reply.size() > max_frame_bytes) {
    status = ReplyTooLarge(reply.size(), max_frame_bytes);
  }
  if (status.ok()) {
    protocol::FinishFrame(start, protocol::FrameKind::kNormal, &out);
    return answered;
  }
  out.Truncate(start);  // whatever the handler wrote before failing is not sent
  protocol::AppendErrorFrame(status, &out);
  answered.how = Inline::kFailed;
  return answered;
}

// Appends an error reply for a request, into the output or in order behind one waiting.
void AppendError(const absl::Status& status, ReplyOrder& order, protocol::OutputQueue& output,
                 DispatchResult& result) {
  protocol::Buffer error;
  protocol::AppendErrorFrame(status, &error);
  if (order.empty()) {
    output.BufferForNextReply().Append(error.view());
    ++result.replies;
  } else {
    order.PushReady(error.view());
  }
}

}  // namespace

absl::Status CallHandler(handlers::Handler& handler, absl::string_view request,
                         handlers::Reply& reply) {
  return handlers::internal::CallCatching([&] { return handler.Handle(request, reply); });
}

absl::Status CallOffloaded(handlers::OffloadedCall& call, absl::string_view request,
                           handlers::Reply& reply) {
  return handlers::internal::CallCatching([&] { return call(request, reply); });
}

absl::Status MisuseError(absl::string_view what) {
  LOG(DFATAL) << "handler misuse: " << what;
  return handlers::internal::MisuseStatus(what);
}

bool AppendReplyFrame(const absl::Status& status, absl::string_view payload,
                      uint32_t max_frame_bytes, protocol::Buffer* out) {
  if (status.ok() && payload.size() <= max_frame_bytes) {
    protocol::AppendFrame(payload, out);
    return true;
  }
  protocol::AppendErrorFrame(status.ok() ? ReplyTooLarge(payload.size(), max_frame_bytes) : status,
                             out);
  return false;
}

DispatchResult DispatchFrames(protocol::FrameDecoder& decoder, handlers::Handler& handler,
                              ReplyOrder& order, protocol::OutputQueue& output, LaterAnswers* later,
                              const DispatchLimits& limits) {
  DispatchResult result;
  // Only a call offloaded below (this loop stops after it) or before can hold the connection:
  // its return comes on this thread, between two dispatches, so asking once is enough.
  if (later != nullptr && later->Offloading()) {
    result.stopped = StopReason::kOffloaded;
    return result;
  }
  while (true) {
    if (output.size() > limits.max_pending_output_bytes) {
      result.stopped = StopReason::kOutputFull;
      return result;
    }
    if (order.size() >= limits.max_inflight) {
      result.stopped = StopReason::kInflightFull;
      return result;
    }
    if (result.frames == limits.max_frames) {
      result.stopped = decoder.buffered_bytes() >= protocol::kHeaderBytes
                           ? StopReason::kBatchLimit
                           : StopReason::kNeedMoreBytes;
      return result;
    }
    absl::StatusOr<std::optional<protocol::Frame>> frame = decoder.Next();
    if (!frame.ok()) {
      result.stopped = StopReason::kProtocolError;
      result.error = frame.status();
      return result;
    }
    if (!frame->has_value()) {
      result.stopped = StopReason::kNeedMoreBytes;
      return result;
    }
    ++result.frames;
    const absl::string_view request = (*frame)->payload;
    Answered answered;
    if (order.empty()) {  // the fast path: straight into the output queue
      answered = AnswerInline(request, handler, output.BufferForNextReply(), later,
                              limits.max_frame_bytes);
      if (answered.how == Inline::kAnswered || answered.how == Inline::kFailed) ++result.replies;
    } else {  // behind a request still waiting: held in order, written where it waits
      protocol::Buffer& held = order.held_buffer();
      const size_t before = held.size();
      answered = AnswerInline(request, handler, held, later, limits.max_frame_bytes);
      if (held.size() > before) order.PushHeld(held.size() - before);
    }
    bool offloaded = false;
    if (answered.how == Inline::kOffloaded) {
      offloaded = later != nullptr && later->Offload(request, std::move(answered.offload));
      if (offloaded) {
        answered.how = Inline::kDeferred;
      } else {
        // A unit test's session without handler threads, or a full queue.
        AppendError(absl::ResourceExhaustedError("server overloaded: too many requests queued"),
                    order, output, result);
        ++result.overloaded;
        answered.how = Inline::kFailed;
      }
    }
    // Counted here, where it happens: a counter derived from the others would count an inline
    // error twice (it is both a reply and an error) and replies held in order not at all.
    if (answered.how == Inline::kDeferred) ++result.later;
    if (answered.how == Inline::kFailed) ++result.handler_errors;
    if (answered.misused) ++result.misused;
    if (answered.close_after) {
      result.stopped = StopReason::kCloseRequested;
      return result;
    }
    if (offloaded) {  // the connection's next request waits until the call has returned
      result.stopped = StopReason::kOffloaded;
      return result;
    }
  }
}

}  // namespace server
