#include "server/worker/late_answers.h"

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "protocol/frame.h"

namespace server {
namespace {

constexpr absl::Duration kTimeout = absl::Milliseconds(250);
constexpr int64_t kTimeoutNs = 250'000'000;

std::string Frames(std::initializer_list<absl::string_view> payloads) {
  protocol::Buffer out;
  for (absl::string_view p : payloads) protocol::AppendFrame(p, &out);
  return std::string(out.view());
}

// The frames of `bytes`, errors as "!<CODE>: message".
std::vector<std::string> Decode(const std::string& bytes) {
  protocol::FrameDecoder decoder({.max_frame_bytes = 1 << 20, .allow_error_frames = true});
  decoder.Feed(bytes);
  std::vector<std::string> frames;
  while (true) {
    absl::StatusOr<std::optional<protocol::Frame>> frame = decoder.Next();
    if (!frame.ok() || !frame->has_value()) break;
    const protocol::Frame& f = **frame;
    frames.push_back((f.kind == protocol::FrameKind::kError ? "!" : "") + std::string(f.payload));
  }
  return frames;
}

// Answers "later" through Reply::Defer() (the completion goes to `completions`), anything
// else inline.
class LaterOrEcho : public handlers::Handler {
 public:
  explicit LaterOrEcho(std::vector<handlers::Completion>* completions)
      : completions_(completions) {}
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    if (request == "later") {
      completions_->push_back(reply.Defer());
    } else {
      reply.Append(request);
    }
    return absl::OkStatus();
  }

 private:
  std::vector<handlers::Completion>* const completions_;
};

class CountingOwner : public Session::Owner {
 public:
  void OnAnswersPlaced(bool) override { ++placed; }
  int placed = 0;
};

// LateAnswers lent to one session with no socket, on a loop stepped by the test. The timers
// are driven with explicit times: the request's start (the loop's turn time) plus the timeout.
class LateAnswersTest : public ::testing::Test {
 protected:
  static ServerOptions Options() {
    ServerOptions options;
    options.handler_timeout = kTimeout;
    return options;
  }

  void SetUp() override {
    ASSERT_TRUE(loop_.Init().ok());
    pool_.Start();
    late_ = std::make_unique<LateAnswers>(Options(), &loop_, &context_, &pool_, &budget_,
                                          &stats_.worker(0));
    served_.factory = [this](const handlers::HandlerContext&) {
      return std::make_unique<LaterOrEcho>(&completions_);
    };
    session_ = std::make_unique<Session>(late_->services(), &served_, 1, &output_, &owner_);
    session_->Start({1, "127.0.0.1:1", "127.0.0.1:2"});
    loop_.RunOnce(0);  // sets the loop's time, which starts each request's deadline
  }
  void TearDown() override {
    session_.reset();
    pool_.Stop();
  }

  void Serve(const std::string& bytes) {
    decoder_.Feed(bytes);
    session_->Serve(decoder_, {.max_frame_bytes = 1 << 20});
  }

  bool RunUntil(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done()) {
      if (absl::Now() >= deadline) return false;
      loop_.RunOnce(5);
    }
    return true;
  }

  void FinishElsewhere(size_t i, std::string payload) {
    std::thread t([&] { completions_[i].Finish(std::move(payload)); });
    t.join();
  }

  WorkerStats& stats() { return stats_.worker(0); }

  MemoryBudget budget_{int64_t{1} << 30};
  ServerStats stats_{1, &budget_};
  common::EventLoop loop_;
  HandlerPool pool_{1, 16};
  handlers::HandlerContext context_;
  std::unique_ptr<LateAnswers> late_;
  std::vector<handlers::Completion> completions_;
  ServedHandler served_;
  protocol::FrameDecoder decoder_{{.max_frame_bytes = 1 << 20}};
  protocol::OutputQueue output_;
  CountingOwner owner_;
  std::unique_ptr<Session> session_;
};

TEST_F(LateAnswersTest, ARequestPastItsDeadlineIsAnsweredDeadlineExceededInItsPlace) {
  const int64_t started = loop_.now_ns();
  Serve(Frames({"later", "b"}));
  ASSERT_EQ(completions_.size(), 1u);
  EXPECT_EQ(late_->waiting(), 1u);

  late_->ExpireDue(started + kTimeoutNs - 1);  // not yet
  EXPECT_EQ(output_.ToString(), "");
  EXPECT_EQ(stats().handler_timeouts.value(), 0);
  EXPECT_EQ(late_->waiting(), 1u);

  late_->ExpireDue(started + kTimeoutNs);
  const std::vector<std::string> replies = Decode(output_.ToString());
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_TRUE(absl::StartsWith(replies[0], "!DEADLINE_EXCEEDED: ")) << replies[0];
  EXPECT_TRUE(absl::StrContains(replies[0], "--handler_timeout_ms=250")) << replies[0];
  EXPECT_EQ(replies[1], "b");  // held behind it, released with it
  EXPECT_EQ(stats().handler_timeouts.value(), 1);
  EXPECT_EQ(late_->waiting(), 0u);
  EXPECT_EQ(late_->NextDeadlineNs(), common::EventLoop::kNoDeadline);
  EXPECT_EQ(owner_.placed, 1);
}

TEST_F(LateAnswersTest, TheAnswerThatComesAfterTheTimeoutIsDiscarded) {
  const int64_t started = loop_.now_ns();
  Serve(Frames({"later"}));
  late_->ExpireDue(started + kTimeoutNs);
  const std::string answered = output_.ToString();
  FinishElsewhere(0, "too late");
  ASSERT_TRUE(RunUntil([&] { return stats().replies_discarded.value() == 1; }));
  EXPECT_EQ(output_.ToString(), answered);
  EXPECT_EQ(owner_.placed, 1);
}

TEST_F(LateAnswersTest, ARequestAnsweredInTimeLeavesNoDeadline) {
  const int64_t started = loop_.now_ns();
  Serve(Frames({"later"}));
  EXPECT_EQ(late_->waiting(), 1u);
  FinishElsewhere(0, "in time");
  ASSERT_TRUE(RunUntil([&] { return owner_.placed == 1; }));
  EXPECT_EQ(late_->waiting(), 0u);
  EXPECT_EQ(late_->NextDeadlineNs(), common::EventLoop::kNoDeadline);
  late_->ExpireDue(started + 10 * kTimeoutNs);
  EXPECT_EQ(stats().handler_timeouts.value(), 0);
  EXPECT_EQ(output_.ToString(), Frames({"in time"}));
}

TEST_F(LateAnswersTest, NextDeadlineIsTheEarliestWaitingRequestsDeadline) {
  EXPECT_EQ(late_->NextDeadlineNs(), common::EventLoop::kNoDeadline);
  const int64_t first = loop_.now_ns();
  Serve(Frames({"later"}));
  EXPECT_EQ(late_->NextDeadlineNs(), first + kTimeoutNs);

  // A second request, in a later turn.
  ASSERT_TRUE(RunUntil([&] { return loop_.now_ns() > first; }));
  const int64_t second = loop_.now_ns();
  Serve(Frames({"later"}));
  EXPECT_EQ(late_->waiting(), 2u);
  EXPECT_EQ(late_->NextDeadlineNs(), first + kTimeoutNs);

  late_->ExpireDue(first + kTimeoutNs);
  EXPECT_EQ(stats().handler_timeouts.value(), 1);
  EXPECT_EQ(late_->NextDeadlineNs(), second + kTimeoutNs);
  late_->ExpireDue(second + kTimeoutNs);
  EXPECT_EQ(stats().handler_timeouts.value(), 2);
  EXPECT_EQ(late_->NextDeadlineNs(), common::EventLoop::kNoDeadline);
}

}  // namespace
}  // namespace server
