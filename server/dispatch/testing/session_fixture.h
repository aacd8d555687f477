// SessionTest: a Session with no socket, for the session's unit tests. Its input is a decoder
// fed by the test, its output a queue read back, its loop stepped on the test thread; its
// handler is LaterOrEcho (answers "later" through a deferred completion the test finishes)
// or GatedEcho (offloads to the pool; "wait" holds its thread at a gate).
//
//   TEST_F(SessionTest, Example) {
//     StartSession();
//     Serve(Frames({"later", "now"}));
//     FinishElsewhere(0, "done");
//     ASSERT_TRUE(RunUntil([&] { return owner_.placed == 1; }));
//   }
#ifndef SERVER_DISPATCH_TESTING_SESSION_FIXTURE_H_
#define SERVER_DISPATCH_TESTING_SESSION_FIXTURE_H_

#include <condition_variable>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/gate.h"
#include "gtest/gtest.h"
#include "protocol/frame.h"
#include "server/dispatch/session.h"

namespace server {
namespace testing {

inline std::string Frames(std::initializer_list<absl::string_view> payloads) {
  protocol::Buffer out;
  for (absl::string_view p : payloads) protocol::AppendFrame(p, &out);
  return std::string(out.view());
}

inline std::string ErrorFrame(const absl::Status& status) {
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

// Offloads every request: its call echoes, noting the thread it ran on; a call of "wait" holds
// its thread at the gate first (and says it got there); one of "defer" misuses its reply.
class GatedEcho : public handlers::Handler {
 public:
  struct Shared {
    common::testing::Gate gate;
    std::mutex mu;
    std::vector<std::thread::id> threads;  // guarded by mu
    bool waiting = false;                  // guarded by mu: a call is at the gate
  };
  explicit GatedEcho(Shared* shared) : shared_(shared) {}
  absl::Status Handle(absl::string_view, handlers::Reply& reply) override {
    reply.Offload([shared = shared_](absl::string_view request, handlers::Reply& reply) {
      {
        std::lock_guard<std::mutex> lock(shared->mu);
        shared->threads.push_back(std::this_thread::get_id());
        if (request == "wait") shared->waiting = true;
      }
      if (request == "wait") shared->gate.Wait();
      if (request == "defer") handlers::Completion not_allowed = reply.Defer();
      reply.Append(request);
      return absl::OkStatus();
    });
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

  // Makes the session, serving with a LaterOrEcho (inline) or a GatedEcho (offloading).
  void StartSession(bool offloading = false) {
    if (offloading) {
      served_.factory = [this](const handlers::HandlerContext&) {
        return std::make_unique<GatedEcho>(&shared_);
      };
    } else {
      served_.factory = [this](const handlers::HandlerContext&) {
        return std::make_unique<LaterOrEcho>(&deferred_);
      };
    }
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


}  // namespace testing
}  // namespace server

#endif  // SERVER_DISPATCH_TESTING_SESSION_FIXTURE_H_
