#include "server/dispatch.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "protocol/frame.h"

namespace server {
namespace {

// Appends the reply to one request; returns false if it is an error reply.
bool AnswerFrame(absl::string_view request, handlers::Handler& handler, protocol::Buffer& output,
                 uint32_t max_frame_bytes) {
  const size_t start = protocol::BeginFrame(&output);
  handlers::Reply reply(&output);
  absl::Status status;
  try {
    status = handler.Handle(request, reply);
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("handler threw: ", e.what()));
  } catch (...) {
    status = absl::InternalError("handler threw a non-standard exception");
  }
  if (status.ok() && reply.size() > max_frame_bytes) {
    status = absl::ResourceExhaustedError(absl::StrCat(
        "reply of ", reply.size(), " bytes exceeds --max_frame_bytes=", max_frame_bytes));
  }
  if (status.ok()) {
    protocol::FinishFrame(start, protocol::FrameKind::kNormal, &output);
    return true;
  }
  output.Truncate(start);  // whatever the handler wrote before failing is not sent
  protocol::AppendErrorFrame(status, &output);
  return false;
}

}  // namespace

DispatchResult DispatchFrames(protocol::FrameDecoder& decoder, handlers::Handler& handler,
                              protocol::OutputQueue& output, const DispatchLimits& limits) {
  DispatchResult result;
  while (true) {
    if (output.size() > limits.max_pending_output_bytes) {
      result.stopped = StopReason::kOutputFull;
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
    if (!AnswerFrame((*frame)->payload, handler, output.BufferForNextReply(),
                     limits.max_frame_bytes)) {
      ++result.handler_errors;
    }
    ++result.frames;
  }
}

}  // namespace server
