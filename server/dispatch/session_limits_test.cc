// Session: handler deadlines of deferred requests, blocking calls on the handler pool, and the memory budget's charge for them.
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

TEST_F(SessionTest, ABlockingHandlerRunsOnThePoolAndAnswersInOrder) {
  StartSession(/*blocking=*/true);
  const DispatchResult r = Serve(Frames({"wait", "b", "c"}));
  EXPECT_EQ(r.frames, 3);
  EXPECT_EQ(r.replies, 0);
  EXPECT_EQ(stats().requests_later.value(), 3);
  // The first call is held on a handler thread: the others wait behind it, in the strand.
  ASSERT_TRUE(RunUntil([&] {
    std::lock_guard<std::mutex> lock(shared_.mu);
    return shared_.waiting;
  }));
  EXPECT_EQ(output_.ToString(), "");
  EXPECT_EQ(session_->places(), 3u);

  shared_.gate.Open();
  ASSERT_TRUE(RunUntil([&] { return output_.size() == Frames({"wait", "b", "c"}).size(); }));
  EXPECT_EQ(output_.ToString(), Frames({"wait", "b", "c"}));
  EXPECT_TRUE(session_->empty());
  std::lock_guard<std::mutex> lock(shared_.mu);
  ASSERT_EQ(shared_.threads.size(), 3u);
  for (const std::thread::id& id : shared_.threads) EXPECT_NE(id, std::this_thread::get_id());
}

TEST_F(SessionTest, ABlockingRequestIsChargedToTheBudgetUntilItsCallRan) {
  StartSession(/*blocking=*/true);
  Serve(Frames({"wait", "second"}));
  ASSERT_TRUE(RunUntil([&] {
    std::lock_guard<std::mutex> lock(shared_.mu);
    return shared_.waiting;
  }));
  // Both requests' copies are held: one in its call, one queued behind it.
  EXPECT_EQ(budget_.used(), static_cast<int64_t>(std::string("wait").size() +
                                                  std::string("second").size()));
  shared_.gate.Open();
  ASSERT_TRUE(RunUntil([&] { return budget_.used() == 0; }));
  ASSERT_TRUE(RunUntil([&] { return session_->empty(); }));
  EXPECT_EQ(output_.ToString(), Frames({"wait", "second"}));
}

}  // namespace
}  // namespace server
