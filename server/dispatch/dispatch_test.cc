#include "server/dispatch/dispatch.h"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "handlers/echo/echo.h"
#include "protocol/frame.h"
#include "server/dispatch/testing/recording_later.h"

namespace server {
namespace {

using testing::RecordingLater;

std::string Frames(std::initializer_list<absl::string_view> payloads) {
  protocol::Buffer out;
  for (absl::string_view p : payloads) protocol::AppendFrame(p, &out);
  return std::string(out.view());
}

class ThrowingHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    reply.Append("discarded");
    if (request == "throw") throw std::runtime_error("boom");
    return absl::InvalidArgumentError("no");
  }
};

TEST(DispatchFramesTest, AnswersEveryCompleteFrameInOrder) {
  protocol::FrameDecoder decoder({});
  handlers::EchoHandler echo;
  protocol::OutputQueue output;
  const std::string stream = Frames({"a", "", "bc"});
  decoder.Feed(absl::string_view(stream).substr(0, stream.size() - 1));  // last frame partial
  DispatchResult r = DispatchFrames(decoder, echo, output, {.max_frame_bytes = 100});
  EXPECT_EQ(r.frames, 2);
  EXPECT_EQ(r.stopped, StopReason::kNeedMoreBytes);
  EXPECT_EQ(output.ToString(), Frames({"a", ""}));
}

TEST(DispatchFramesTest, StopsAtTheBatchLimitAndResumes) {
  protocol::FrameDecoder decoder({});
  handlers::EchoHandler echo;
  protocol::OutputQueue output;
  const std::string stream = Frames({"1", "2", "3"});
  decoder.Feed(stream);
  DispatchResult r = DispatchFrames(decoder, echo, output, {.max_frame_bytes = 100, .max_frames = 2});
  EXPECT_EQ(r.frames, 2);
  EXPECT_EQ(r.stopped, StopReason::kBatchLimit);
  r = DispatchFrames(decoder, echo, output, {.max_frame_bytes = 100, .max_frames = 2});
  EXPECT_EQ(r.frames, 1);
  EXPECT_EQ(r.stopped, StopReason::kNeedMoreBytes);
  EXPECT_EQ(output.ToString(), stream);
}

TEST(DispatchFramesTest, StopsWhenOutputIsFull) {
  protocol::FrameDecoder decoder({});
  handlers::EchoHandler echo;
  protocol::OutputQueue output;
  const std::string stream = Frames({"12345", "12345", "12345"});  // Feed() borrows: keep it alive
  decoder.Feed(stream);
  const DispatchResult r =
      DispatchFrames(decoder, echo, output, {.max_frame_bytes = 100, .max_pending_output_bytes = 10});
  EXPECT_EQ(r.frames, 2);  // 9 bytes pending is not above 10; 18 is
  EXPECT_EQ(r.stopped, StopReason::kOutputFull);
}

TEST(DispatchFramesTest, HandlerFailuresBecomeErrorRepliesAndDispatchGoesOn) {
  protocol::FrameDecoder decoder({});
  ThrowingHandler failing;
  protocol::OutputQueue output;
  const std::string stream = Frames({"throw", "status"});  // Feed() borrows: keep it alive
  decoder.Feed(stream);
  const DispatchResult r = DispatchFrames(decoder, failing, output, {.max_frame_bytes = 100});
  EXPECT_EQ(r.frames, 2);
  EXPECT_EQ(r.handler_errors, 2);
  EXPECT_EQ(r.replies, 2);
  EXPECT_EQ(r.later, 0) << "an error answered inline is not answered later";
  protocol::Buffer expected;
  protocol::AppendErrorFrame(absl::InternalError("handler threw: boom"), &expected);
  protocol::AppendErrorFrame(absl::InvalidArgumentError("no"), &expected);
  EXPECT_EQ(output.ToString(), expected.view());
}

TEST(DispatchFramesTest, OversizeReplyBecomesAnError) {
  protocol::FrameDecoder decoder({});
  handlers::EchoHandler echo;
  protocol::OutputQueue output;
  const std::string stream = Frames({"12345678"});  // Feed() borrows: keep it alive
  decoder.Feed(stream);
  const DispatchResult r = DispatchFrames(decoder, echo, output, {.max_frame_bytes = 4});
  EXPECT_EQ(r.handler_errors, 1);
  EXPECT_NE(output.ToString().find("RESOURCE_EXHAUSTED: reply of 8 bytes"), absl::string_view::npos);
}

TEST(DispatchFramesTest, BadHeaderIsAProtocolError) {
  protocol::FrameDecoder decoder({.max_frame_bytes = 10});
  handlers::EchoHandler echo;
  protocol::OutputQueue output;
  const std::string stream = Frames({"ok", std::string(11, 'x')});  // Feed() borrows: keep it alive
  decoder.Feed(stream);
  const DispatchResult r = DispatchFrames(decoder, echo, output, {.max_frame_bytes = 10});
  EXPECT_EQ(r.frames, 1);
  EXPECT_EQ(r.stopped, StopReason::kProtocolError);
  EXPECT_EQ(r.error.code(), absl::StatusCode::kInvalidArgument);
}

// Answers "now:" requests on the loop and offloads the rest.
class MaybeNowHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    ++tried;
    if (absl::StartsWith(request, "now:")) {
      reply.Append(absl::StrCat(request, "@loop"));
    } else {
      reply.Offload([](absl::string_view request, handlers::Reply& reply) {
        reply.Append(absl::StrCat(request, "@thread"));
        return absl::OkStatus();
      });
    }
    return absl::OkStatus();
  }
  int tried = 0;
};

TEST(DispatchFramesTest, AHandlerAnswersOnTheLoopWhatNeedsNoWait) {
  protocol::FrameDecoder decoder({});
  MaybeNowHandler handler;
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  RecordingLater later(&order);
  const std::string stream = Frames({"now:a", "now:b"});
  decoder.Feed(stream);
  const DispatchResult r =
      DispatchFrames(decoder, handler, order, output, &later, {.max_frame_bytes = 100});
  EXPECT_EQ(r.frames, 2);
  EXPECT_EQ(r.replies, 2);
  EXPECT_TRUE(later.offloaded.empty());
  EXPECT_EQ(output.ToString(), Frames({"now:a@loop", "now:b@loop"}));
}

TEST(DispatchFramesTest, NothingIsHandledWhileACallIsOffloaded) {
  protocol::FrameDecoder decoder({});
  MaybeNowHandler handler;
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  RecordingLater later(&order);
  // "slow" goes to the handler threads; "now:b" behind it waits in the input until it has
  // returned, rather than be answered on the loop first (or reach the handler meanwhile).
  const std::string stream = Frames({"now:a", "slow", "now:b"});
  decoder.Feed(stream);
  DispatchResult r =
      DispatchFrames(decoder, handler, order, output, &later, {.max_frame_bytes = 100});
  EXPECT_EQ(r.frames, 2);
  EXPECT_EQ(r.replies, 1);
  EXPECT_EQ(r.later, 1);
  EXPECT_EQ(r.stopped, StopReason::kOffloaded);
  EXPECT_EQ(handler.tried, 2);  // "now:a" and "slow", not yet "now:b"
  EXPECT_EQ(later.offloaded, (std::vector<std::string>{"slow"}));
  EXPECT_EQ(output.ToString(), Frames({"now:a@loop"}));
  EXPECT_GT(decoder.buffered_bytes(), 0u);

  later.Return();
  r = DispatchFrames(decoder, handler, order, output, &later, {.max_frame_bytes = 100});
  EXPECT_EQ(r.frames, 1);
  EXPECT_EQ(r.stopped, StopReason::kNeedMoreBytes);
  EXPECT_EQ(handler.tried, 3);
  EXPECT_EQ(output.ToString(), Frames({"now:a@loop", "slow@thread", "now:b@loop"}));
}

TEST(DispatchFramesTest, AnErrorReturnedAfterOffloadAnswersAndDropsTheCall) {
  struct OffloadThenFail : handlers::Handler {
    absl::Status Handle(absl::string_view, handlers::Reply& reply) override {
      reply.Offload([](absl::string_view, handlers::Reply&) { return absl::OkStatus(); });
      return absl::UnavailableError("changed its mind");
    }
  } handler;
  protocol::FrameDecoder decoder({});
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  RecordingLater later(&order);
  const std::string stream = Frames({"x", "y"});
  decoder.Feed(stream);
  const DispatchResult r =
      DispatchFrames(decoder, handler, order, output, &later, {.max_frame_bytes = 100});
  EXPECT_EQ(r.frames, 2);
  EXPECT_EQ(r.handler_errors, 2);
  EXPECT_TRUE(later.offloaded.empty());
  EXPECT_TRUE(absl::StrContains(output.ToString(), "changed its mind"));
}

}  // namespace
}  // namespace server
