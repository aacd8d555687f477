// Session: answers given at once, later and in order; what closing does to answers still owed.
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

TEST_F(SessionTest, InlineAnswersGoStraightToTheOutput) {
  StartSession();
  const DispatchResult r = Serve(Frames({"a", "bc"}));
  EXPECT_EQ(r.frames, 2);
  EXPECT_EQ(r.replies, 2);
  EXPECT_EQ(output_.ToString(), Frames({"a", "bc"}));
  EXPECT_TRUE(session_->empty());
  EXPECT_EQ(session_->places(), 0u);
  EXPECT_EQ(deadlines_.size(), 0u);
  EXPECT_EQ(owner_.placed, 0);  // nothing came later
  EXPECT_EQ(stats().frames_in.value(), 2);
  EXPECT_EQ(stats().frames_out.value(), 2);
}

TEST_F(SessionTest, ADeferredAnswerHoldsLaterRepliesInOrderUntilFinished) {
  StartSession();
  const DispatchResult r = Serve(Frames({"later", "b", "c"}));
  EXPECT_EQ(r.frames, 3);
  EXPECT_EQ(r.replies, 0);
  ASSERT_EQ(deferred_.completions.size(), 1u);
  EXPECT_EQ(output_.ToString(), "");  // "b" and "c" wait behind "later"
  EXPECT_EQ(session_->places(), 3u);
  EXPECT_EQ(session_->held_bytes(), Frames({"b", "c"}).size());

  FinishElsewhere(0, "first");
  EXPECT_EQ(output_.ToString(), "");  // posted to the loop, not placed from that thread
  ASSERT_TRUE(RunUntil([&] { return owner_.placed > 0; }));
  EXPECT_EQ(output_.ToString(), Frames({"first", "b", "c"}));
  EXPECT_TRUE(session_->empty());
  EXPECT_EQ(session_->held_bytes(), 0u);
  EXPECT_EQ(owner_.placed, 1);
  EXPECT_EQ(owner_.close_after_count, 0);
  EXPECT_EQ(stats().frames_out.value(), 3);
}

TEST_F(SessionTest, CloseCutsTheLinkAndCountsWhatIsDiscarded) {
  StartSession();
  Serve(Frames({"later", "b", "c"}));
  ASSERT_EQ(deferred_.completions.size(), 1u);
  session_->Close();
  EXPECT_EQ(stats().replies_discarded.value(), 2);  // "b" and "c", held behind "later"
  session_->Close();                                // idempotent: counted once
  EXPECT_EQ(stats().replies_discarded.value(), 2);

  FinishElsewhere(0, "too late");
  ASSERT_TRUE(RunUntil([&] { return stats().replies_discarded.value() == 3; }));
  EXPECT_EQ(output_.ToString(), "");
  EXPECT_EQ(owner_.placed, 0);
}

TEST_F(SessionTest, AnswerWaitingPutsAnErrorFrameInItsPlace) {
  StartSession();
  Serve(Frames({"b", "later", "c"}));
  EXPECT_EQ(output_.ToString(), Frames({"b"}));
  // The request's id, as the worker learns it: from its deadline.
  std::vector<uint64_t> due;
  deadlines_.Expire(common::EventLoop::kNoDeadline - 1,
                    [&](RequestDeadlines::Holder* s, uint64_t id) {
                      EXPECT_EQ(s, static_cast<RequestDeadlines::Holder*>(session_.get()));
                      due.push_back(id);
                    });
  ASSERT_EQ(due.size(), 1u);
  const absl::Status late = absl::DeadlineExceededError("no answer");
  session_->AnswerWaiting(due[0], late);
  EXPECT_EQ(output_.ToString(), Frames({"b"}) + ErrorFrame(late) + Frames({"c"}));
  EXPECT_TRUE(session_->empty());
  EXPECT_EQ(owner_.placed, 1);
  EXPECT_EQ(stats().handler_errors.value(), 1);

  session_->AnswerWaiting(due[0], late);  // not waiting any more: nothing happens
  EXPECT_EQ(owner_.placed, 1);
  FinishElsewhere(0, "too late");  // the handler's own answer, after the error, is discarded
  ASSERT_TRUE(RunUntil([&] { return stats().replies_discarded.value() == 1; }));
  EXPECT_EQ(output_.ToString(), Frames({"b"}) + ErrorFrame(late) + Frames({"c"}));
}

TEST_F(SessionTest, AnswerAllWaitingAnswersEachWaitingRequestInItsPlace) {
  StartSession();
  Serve(Frames({"later", "b", "later", "d"}));
  ASSERT_EQ(deferred_.completions.size(), 2u);
  const absl::Status stopping = absl::UnavailableError("server shutting down");
  session_->AnswerAllWaiting(stopping);
  EXPECT_EQ(output_.ToString(),
            ErrorFrame(stopping) + Frames({"b"}) + ErrorFrame(stopping) + Frames({"d"}));
  EXPECT_TRUE(session_->empty());
  EXPECT_EQ(deadlines_.size(), 0u);
}

// A misuse (handlers/handler.h): the second answer stops a debug build; a release build drops
// it, counts it, and the first answer stands.
TEST_F(SessionTest, FinishingACompletionTwiceIsAMisuse) {
  StartSession();
  Serve(Frames({"later"}));
  ASSERT_EQ(deferred_.completions.size(), 1u);
  deferred_.completions[0].Finish("once");
  EXPECT_DEBUG_DEATH(deferred_.completions[0].Finish("twice"), "a Completion finished twice");
#ifdef NDEBUG
  ASSERT_TRUE(RunUntil([&] { return stats().handler_misuse.value() == 1; }));
#endif
  ASSERT_TRUE(RunUntil([&] { return session_->empty(); }));
  EXPECT_EQ(output_.ToString(), Frames({"once"}));
}

}  // namespace
}  // namespace server
