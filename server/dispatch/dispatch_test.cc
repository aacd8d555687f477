#include "server/dispatch/dispatch.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "handlers/echo/echo.h"
#include "protocol/frame.h"

namespace server {
namespace {

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

// A blocking handler that answers "now:" requests on the loop and declines the rest.
class MaybeNowHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    reply.Append(absl::StrCat(request, "@thread"));
    return absl::OkStatus();
  }
  absl::StatusOr<bool> HandleWithoutBlocking(absl::string_view request,
                                             handlers::Reply& reply) override {
    ++tried;
    if (!absl::StartsWith(request, "now:")) return false;
    reply.Append(absl::StrCat(request, "@loop"));
    return true;
  }
  int tried = 0;
};

// Stands in for the handler threads: records what was handed over, holding its reply place.
class RecordingLater : public LaterAnswers {
 public:
  explicit RecordingLater(ReplyOrder* order) : order_(order) {}
  handlers::Completion Defer() override { return handlers::Completion(); }
  bool RunBlocking(absl::string_view request) override {
    offloaded.emplace_back(request);
    places.push_back(order_->Reserve(0));
    return true;
  }
  bool BlockingCallsPending() override { return !offloaded.empty(); }  // none finishes here
  std::vector<std::string> offloaded;
  std::vector<uint64_t> places;

 private:
  ReplyOrder* order_;
};

TEST(DispatchFramesTest, ABlockingHandlerAnswersOnTheLoopWhatNeedsNoWait) {
  protocol::FrameDecoder decoder({});
  MaybeNowHandler handler;
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  RecordingLater later(&order);
  const std::string stream = Frames({"now:a", "now:b"});
  decoder.Feed(stream);
  const DispatchResult r = DispatchFrames(decoder, handler, order, output, &later,
                                          {.max_frame_bytes = 100, .blocking = true});
  EXPECT_EQ(r.frames, 2);
  EXPECT_EQ(r.replies, 2);
  EXPECT_TRUE(later.offloaded.empty());
  EXPECT_EQ(output.ToString(), Frames({"now:a@loop", "now:b@loop"}));
}

TEST(DispatchFramesTest, NothingOvertakesACallOnTheHandlerThreads) {
  protocol::FrameDecoder decoder({});
  MaybeNowHandler handler;
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  RecordingLater later(&order);
  // "slow" is declined and goes to the handler threads; "now:b" behind it must follow it
  // there rather than be answered on the loop first.
  const std::string stream = Frames({"now:a", "slow", "now:b"});
  decoder.Feed(stream);
  const DispatchResult r = DispatchFrames(decoder, handler, order, output, &later,
                                          {.max_frame_bytes = 100, .blocking = true});
  EXPECT_EQ(r.frames, 3);
  EXPECT_EQ(r.replies, 1);
  EXPECT_EQ(handler.tried, 2);  // "now:a" and "slow", never "now:b"
  EXPECT_EQ(later.offloaded, (std::vector<std::string>{"slow", "now:b"}));
  EXPECT_EQ(output.ToString(), Frames({"now:a@loop"}));
  // The handler threads answer in order; both replies follow "now:a".
  int released = 0;
  int64_t started = 0;
  protocol::Buffer slow, b;
  protocol::AppendFrame("slow@thread", &slow);
  protocol::AppendFrame("now:b@thread", &b);
  order.Fill(later.places[0], std::string(slow.view()), &released, &started);
  order.Fill(later.places[1], std::string(b.view()), &released, &started);
  EXPECT_EQ(output.ToString(), Frames({"now:a@loop", "slow@thread", "now:b@thread"}));
}

}  // namespace
}  // namespace server
