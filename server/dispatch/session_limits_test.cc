// Session: handler deadlines of deferred requests, offloaded calls on the handler pool, and the
// memory budget's charge for them.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "protocol/frame.h"
#include "server/dispatch/session.h"
#include "server/dispatch/testing/session_fixture.h"

namespace server {
namespace {

using testing::ErrorFrame;
using testing::Frames;
using testing::SessionTest;

TEST_F(SessionTest, EachDeferredRequestHasADeadlineUntilItIsAnswered) {
  StartSession();
  loop_.RunOnce(0);  // the loop's time is the request's start
  Serve(Frames({"later", "later"}));
  ASSERT_EQ(deferred_.completions.size(), 2u);
  EXPECT_EQ(deadlines_.size(), 2u);
  EXPECT_EQ(deadlines_.NextDeadlineNs(),
            loop_.now_ns() + absl::ToInt64Nanoseconds(kHandlerTimeout));

  FinishElsewhere(1, "two");  // the second first: held until the first is answered
  ASSERT_TRUE(RunUntil([&] { return deadlines_.size() == 1; }));
  EXPECT_EQ(output_.ToString(), "");
  FinishElsewhere(0, "one");
  ASSERT_TRUE(RunUntil([&] { return deadlines_.size() == 0; }));
  EXPECT_EQ(output_.ToString(), Frames({"one", "two"}));
  EXPECT_EQ(deadlines_.NextDeadlineNs(), common::EventLoop::kNoDeadline);
}

TEST_F(SessionTest, CloseGivesBackTheDeadlinesOfWaitingRequests) {
  StartSession();
  Serve(Frames({"later", "later"}));
  EXPECT_EQ(deadlines_.size(), 2u);
  session_->Close();
  EXPECT_EQ(deadlines_.size(), 0u);
  // The two answers that come anyway find the link cut.
  FinishElsewhere(0, "one");
  FinishElsewhere(1, "two");
  ASSERT_TRUE(RunUntil([&] { return stats().replies_discarded.value() == 2; }));
}

TEST_F(SessionTest, AnOffloadedCallRunsOnThePoolAndLaterRequestsWaitForIt) {
  StartSession(/*offloading=*/true);
  DispatchResult r = Serve(Frames({"wait", "b", "c"}));
  EXPECT_EQ(r.frames, 1);
  EXPECT_EQ(r.stopped, StopReason::kOffloaded);
  EXPECT_EQ(stats().requests_later.value(), 1);
  ASSERT_TRUE(RunUntil([&] {
    std::lock_guard<std::mutex> lock(shared_.mu);
    return shared_.waiting;
  }));
  // The call is held on a handler thread: the others wait in the input, not handled.
  EXPECT_TRUE(session_->Offloading());
  EXPECT_EQ(output_.ToString(), "");
  EXPECT_EQ(session_->places(), 1u);
  r = session_->Serve(decoder_, {.max_frame_bytes = 1 << 20});
  EXPECT_EQ(r.frames, 0);
  EXPECT_EQ(r.stopped, StopReason::kOffloaded);

  shared_.gate.Open();
  ASSERT_TRUE(RunUntil([&] { return !session_->Offloading(); }));
  EXPECT_EQ(owner_.placed, 1);  // the owner is told: it serves the rest
  const std::string all = Frames({"wait", "b", "c"});
  ASSERT_TRUE(RunUntil([&] {
    if (!session_->Offloading()) session_->Serve(decoder_, {.max_frame_bytes = 1 << 20});
    return output_.size() == all.size();
  }));
  EXPECT_EQ(output_.ToString(), all);
  EXPECT_TRUE(session_->empty());
  EXPECT_EQ(stats().requests_later.value(), 3);
  std::lock_guard<std::mutex> lock(shared_.mu);
  ASSERT_EQ(shared_.threads.size(), 3u);
  for (const std::thread::id& id : shared_.threads) EXPECT_NE(id, std::this_thread::get_id());
}

TEST_F(SessionTest, AnOffloadedRequestIsChargedToTheBudgetUntilItsCallRan) {
  StartSession(/*offloading=*/true);
  Serve(Frames({"wait", "second"}));
  ASSERT_TRUE(RunUntil([&] {
    std::lock_guard<std::mutex> lock(shared_.mu);
    return shared_.waiting;
  }));
  // The offloaded request's copy is held in its call; the second is still the decoder's.
  EXPECT_EQ(budget_.used(), static_cast<int64_t>(std::string("wait").size()));
  shared_.gate.Open();
  ASSERT_TRUE(RunUntil([&] { return budget_.used() == 0 && !session_->Offloading(); }));
  EXPECT_EQ(output_.ToString(), Frames({"wait"}));
}

TEST_F(SessionTest, AnOffloadedCallPastItsDeadlineHoldsTheConnectionUntilItReturns) {
  StartSession(/*offloading=*/true);
  Serve(Frames({"wait", "next"}));
  ASSERT_TRUE(RunUntil([&] {
    std::lock_guard<std::mutex> lock(shared_.mu);
    return shared_.waiting;
  }));
  const absl::Status late = absl::DeadlineExceededError("too slow");
  session_->AnswerWaiting(1, late);
  EXPECT_EQ(output_.ToString(), ErrorFrame(late));
  // Answered, but the call still runs: the handler instance is not called meanwhile.
  EXPECT_TRUE(session_->Offloading());
  EXPECT_EQ(session_->Serve(decoder_, {.max_frame_bytes = 1 << 20}).frames, 0);
  const int placed = owner_.placed;
  shared_.gate.Open();
  ASSERT_TRUE(RunUntil([&] { return !session_->Offloading(); }));
  EXPECT_EQ(owner_.placed, placed + 1) << "the owner must hear of the return to go on";
  EXPECT_EQ(stats().replies_discarded.value(), 1);  // the call's own answer came too late
}

TEST_F(SessionTest, DeferringInsideAnOffloadedCallIsAMisuse) {
#ifdef NDEBUG
  StartSession(/*offloading=*/true);
  Serve(Frames({"defer"}));
  ASSERT_TRUE(RunUntil([&] { return !session_->Offloading(); }));
  ASSERT_TRUE(RunUntil([&] { return stats().handler_misuse.value() == 1; }));
  EXPECT_EQ(output_.ToString(),
            ErrorFrame(absl::InternalError("handler misuse: Defer() inside an offloaded call")));
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // the pool's threads are running
  EXPECT_DEATH(
      {
        StartSession(/*offloading=*/true);
        Serve(Frames({"defer"}));
        RunUntil([&] { return !session_->Offloading(); });
      },
      "Defer\\(\\) inside an offloaded call");
#endif
}

}  // namespace
}  // namespace server
