// DispatchFrames against a handler that misuses its reply (handlers/handler.h): a debug build
// stops at the misuse, naming it; a release build answers the request INTERNAL, in its place,
// and counts it.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "protocol/frame.h"
#include "server/dispatch/dispatch.h"
#include "server/dispatch/testing/recording_later.h"

namespace server {
namespace {

using testing::RecordingLater;

std::string Frames(std::initializer_list<absl::string_view> payloads) {
  protocol::Buffer out;
  for (absl::string_view p : payloads) protocol::AppendFrame(p, &out);
  return std::string(out.view());
}

// Answers by what the request asks for, each a misuse of the reply (handlers/handler.h).
class MisusingHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    auto nothing = [](absl::string_view, handlers::Reply&) { return absl::OkStatus(); };
    if (request == "offload twice") {
      reply.Offload(nothing);
      reply.Offload(nothing);
    } else if (request == "append and offload") {
      reply.Append("now");
      reply.Offload(nothing);
    } else if (request == "defer twice") {
      kept.push_back(reply.Defer());
      kept.push_back(reply.Defer());
    } else if (request == "offload and defer") {
      reply.Offload(nothing);
      kept.push_back(reply.Defer());
    }
    return absl::OkStatus();
  }
  std::vector<handlers::Completion> kept;
};

// One misused request against a fresh dispatch; what came of it.
struct Misuse {
  DispatchResult result;
  std::string output;
  size_t offloaded = 0;
  std::vector<std::pair<uint64_t, absl::Status>> failed;
};
Misuse DispatchMisuse(absl::string_view request) {
  MisusingHandler handler;
  protocol::FrameDecoder decoder({});
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  RecordingLater later(&order);
  const std::string stream = Frames({request});
  decoder.Feed(stream);
  Misuse misuse;
  misuse.result = DispatchFrames(decoder, handler, order, output, &later, {.max_frame_bytes = 100});
  misuse.output = output.ToString();
  misuse.offloaded = later.offloaded.size();
  misuse.failed = later.failed;
  return misuse;
}

TEST(DispatchMisuseTest, AnsweringTwoWaysStopsADebugBuildAndIsAnInternalErrorOtherwise) {
  for (const char* request : {"offload twice", "append and offload", "offload and defer"}) {
    EXPECT_DEBUG_DEATH(DispatchMisuse(request), "handler misuse") << request;
#ifdef NDEBUG
    const Misuse misuse = DispatchMisuse(request);
    EXPECT_EQ(misuse.result.misused, 1) << request;
    EXPECT_EQ(misuse.result.handler_errors, 1) << request;
    EXPECT_EQ(misuse.offloaded, 0u) << request;
    EXPECT_TRUE(absl::StrContains(misuse.output, "handler misuse")) << request;
#endif
  }
}

TEST(DispatchMisuseTest, DeferringTwiceAnswersTheFirstPlaceWithAnInternalError) {
  EXPECT_DEBUG_DEATH(DispatchMisuse("defer twice"), "answered two ways");
#ifdef NDEBUG
  const Misuse misuse = DispatchMisuse("defer twice");
  EXPECT_EQ(misuse.result.misused, 1);
  EXPECT_EQ(misuse.result.later, 1);  // its place was taken: the error goes there
  ASSERT_EQ(misuse.failed.size(), 1u);
  EXPECT_EQ(misuse.failed[0].second.code(), absl::StatusCode::kInternal);
#endif
}

}  // namespace
}  // namespace server
