#include "server/dispatch/session.h"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "protocol/frame.h"

namespace server {
namespace {

std::string Frames(std::initializer_list<absl::string_view> payloads) {
  protocol::Buffer out;
  for (absl::string_view p : payloads) protocol::AppendFrame(p, &out);
  return std::string(out.view());
}

std::string ErrorFrame(const absl::Status& status) {
  protocol::Buffer out;
  protocol::AppendErrorFrame(status, &out);
  return std::string(out.view());
}

// The completions a handler deferred, kept by the test (loop thread only).
struct Deferred {
  std::vector<handlers::Completion> completions;
};

// Answers "later" through Reply::Defer() (the completion goes to `deferred`), anything else
// inline with its payload.
class LaterOrEcho : public handlers::Handler {
 public:
  explicit LaterOrEcho(Deferred* deferred) : deferred_(deferred) {}
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    if (request == "later") {
      deferred_->completions.push_back(reply.Defer());
    } else {
      reply.Append(request);
    }
    return absl::OkStatus();
  }

 private:
  Deferred* const deferred_;
};

// A gate the test opens; handler threads wait at it (std::mutex: TSan sees it).
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = false;
};

// A blocking handler: echoes, noting the thread each call ran on; a call of "wait" holds its
// thread at the gate first (and says it got there).
class GatedEcho : public handlers::Handler {
 public:
  struct Shared {
    Gate gate;
    std::mutex mu;
    std::vector<std::thread::id> threads;  // guarded by mu
    bool waiting = false;                  // guarded by mu: a call is at the gate
  };
  explicit GatedEcho(Shared* shared) : shared_(shared) {}
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->threads.push_back(std::this_thread::get_id());
      if (request == "wait") shared_->waiting = true;
    }
    if (request == "wait") shared_->gate.Wait();
    reply.Append(request);
    return absl::OkStatus();
  }

 private:
  Shared* const shared_;
};

class RecordingOwner : public Session::Owner {
 public:
  void OnAnswersPlaced(bool close_after) override {
    ++placed;
    if (close_after) ++close_after_count;
  }
  int placed = 0;
  int close_after_count = 0;
};

// A session with no socket: its input is a decoder fed by the test, its output a queue read
// back, its loop stepped on the test thread.
class SessionTest : public ::testing::Test {
 protected:
  static constexpr absl::Duration kHandlerTimeout = absl::Seconds(30);

  void SetUp() override {
    ASSERT_TRUE(loop_.Init().ok());
    pool_.Start();
  }
  ~SessionTest() override {
    shared_.gate.Open();  // no call is left at the gate: the pool can stop
    session_.reset();
    pool_.Stop();
  }

  // Makes the session, serving with a LaterOrEcho (inline) or a GatedEcho (blocking).
  void StartSession(bool blocking = false) {
    if (blocking) {
      served_.factory = [this](const handlers::HandlerContext&) {
        return std::make_unique<GatedEcho>(&shared_);
      };
    } else {
      served_.factory = [this](const handlers::HandlerContext&) {
        return std::make_unique<LaterOrEcho>(&deferred_);
      };
    }
    served_.blocking = blocking;
    session_ = std::make_unique<Session>(&services_, &served_, /*id=*/7, &output_, &owner_);
    session_->Start({7, "127.0.0.1:1", "127.0.0.1:2"});
  }

  DispatchResult Serve(const std::string& bytes) {
    decoder_.Feed(bytes);
    return session_->Serve(decoder_, {.max_frame_bytes = 1 << 20});
  }

  // Steps the loop until `done()`, for at most 10 s.
  bool RunUntil(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done()) {
      if (absl::Now() >= deadline) return false;
      loop_.RunOnce(5);
    }
    return true;
  }

  // Finishes completion `i` from another thread, as a handler's own thread would.
  void FinishElsewhere(size_t i, std::string payload) {
    std::thread t([&] { deferred_.completions[i].Finish(std::move(payload)); });
    t.join();
  }

  WorkerStats& stats() { return stats_.worker(0); }

  MemoryBudget budget_{int64_t{1} << 30};
  ServerStats stats_{1, &budget_};
  common::EventLoop loop_;
  HandlerPool pool_{2, 64};
  RequestDeadlines deadlines_{kHandlerTimeout};
  handlers::HandlerContext context_;
  Session::Services services_{&loop_,   &context_,        &pool_, &deadlines_,
                              &budget_, &stats_.worker(0), 1 << 20};
  GatedEcho::Shared shared_;
  Deferred deferred_;  // after the loop: unfinished completions post to it when destroyed
  ServedHandler served_;
  protocol::FrameDecoder decoder_{{.max_frame_bytes = 1 << 20}};
  protocol::OutputQueue output_;
  RecordingOwner owner_;
  std::unique_ptr<Session> session_;
};

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
                    [&](Session* s, uint64_t id) {
                      EXPECT_EQ(s, session_.get());
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
