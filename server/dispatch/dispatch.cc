#include "server/dispatch/dispatch.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "protocol/frame.h"

namespace server {
namespace {

absl::Status ReplyTooLarge(size_t size, uint32_t max_frame_bytes) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "reply of ", size, " bytes exceeds --max_frame_bytes=", max_frame_bytes));
}

// How a request was answered on the loop: a reply appended, a reply promised for later (the
// handler deferred it), an error reply appended, or not at all (the handler declined).
enum class Inline { kAnswered, kDeferred, kFailed, kDeclined };

// Answers one request inline, appending its reply frame to `out` (unless the handler deferred
// it). With `try_first`, through Handler::HandleWithoutBlocking, which may decline (kDeclined:
// nothing appended).
Inline AnswerInline(absl::string_view request, handlers::Handler& handler, protocol::Buffer& out,
                    handlers::Deferrer* deferrer, uint32_t max_frame_bytes, bool try_first,
                    bool* close_after) {
  const size_t start = protocol::BeginFrame(&out);
  handlers::Reply reply(&out, deferrer);
  absl::Status status;
  if (try_first) {
    absl::StatusOr<bool> answered = TryHandler(handler, request, reply);
    if (answered.ok() && !*answered && !reply.deferred()) {
      out.Truncate(start);
      return Inline::kDeclined;
    }
    status = answered.status();
  } else {
    status = CallHandler(handler, request, reply);
  }
  *close_after = reply.close_after();
  if (reply.deferred()) {
    // The answer comes later, in its reserved place: from the completion, or an INTERNAL
    // error if the handler failed after deferring and dropped it.
    out.Truncate(start);
    return Inline::kDeferred;
  }
  if (status.ok() && reply.size() > max_frame_bytes) {
    status = ReplyTooLarge(reply.size(), max_frame_bytes);
  }
  if (status.ok()) {
    protocol::FinishFrame(start, protocol::FrameKind::kNormal, &out);
    return Inline::kAnswered;
  }
  out.Truncate(start);  // whatever the handler wrote before failing is not sent
  protocol::AppendErrorFrame(status, &out);
  return Inline::kFailed;
}

}  // namespace

namespace {

// Runs `call`, turning an exception thrown by a handler into an INTERNAL status.
template <typename Result, typename Call>
Result Catching(Call call) {
  try {
    return call();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("handler threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("handler threw a non-standard exception");
  }
}

}  // namespace

absl::Status CallHandler(handlers::Handler& handler, absl::string_view request,
                         handlers::Reply& reply) {
  return Catching<absl::Status>([&] { return handler.Handle(request, reply); });
}

absl::StatusOr<bool> TryHandler(handlers::Handler& handler, absl::string_view request,
                                handlers::Reply& reply) {
  return Catching<absl::StatusOr<bool>>(
      [&] { return handler.HandleWithoutBlocking(request, reply); });
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
    Inline answered = Inline::kDeclined;
    bool close_after = false;
    // A blocking handler's request is first offered to the handler on the loop, if no call of
    // this connection is on the handler threads: order means "one at a time, in arrival order".
    const bool offload = limits.blocking && later != nullptr;
    if (!offload || !later->BlockingCallsPending()) {
      if (order.empty()) {  // the fast path: straight into the output queue
        answered = AnswerInline(request, handler, output.BufferForNextReply(), later,
                                limits.max_frame_bytes, offload, &close_after);
        if (answered == Inline::kAnswered || answered == Inline::kFailed) ++result.replies;
      } else {  // behind a request still waiting: held in order
        protocol::Buffer held;
        answered = AnswerInline(request, handler, held, later, limits.max_frame_bytes, offload,
                                &close_after);
        if (held.size() > 0) order.PushReady(held.view());
      }
    }
    if (answered == Inline::kDeclined) {
      answered = Inline::kDeferred;
      if (!later->RunBlocking(request)) {
        protocol::Buffer error;
        protocol::AppendErrorFrame(
            absl::ResourceExhaustedError("server overloaded: too many requests queued"), &error);
        if (order.empty()) {
          output.BufferForNextReply().Append(error.view());
          ++result.replies;
        } else {
          order.PushReady(error.view());
        }
        ++result.overloaded;
        answered = Inline::kFailed;
      }
    }
    // Counted here, where it happens: a counter derived from the others would count an inline
    // error twice (it is both a reply and an error) and replies held in order not at all.
    if (answered == Inline::kDeferred) ++result.later;
    if (answered == Inline::kFailed) ++result.handler_errors;
    if (close_after) {
      result.stopped = StopReason::kCloseRequested;
      return result;
    }
  }
}

}  // namespace server
