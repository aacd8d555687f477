// AnswerLink: how an answer given later, on any thread, finds its session.
//
// A handler's Completion (handlers/handler.h) holds a link, not the session: the link encodes
// the reply frame on the completing thread, queues it, and posts one task to the session's
// event loop for the answers queued until it runs (a group commit answers a connection's
// pipelined writes together: one task, not a task and an allocation each). There,
// and only there, the link knows whether the session still exists (Cut() is called on the loop
// when its connection closes), so a late answer can never touch freed memory: it is discarded
// and counted. One that comes after the loop itself has stopped (the server is past its
// shutdown) is dropped by the loop's task queue. Made on the first request of a session that
// is not answered inline; sessions served only inline never have one.
//
// An answer given on the loop thread itself (an upstream's callback, handlers/upstream.h) is
// delivered at once, with no task: unless the session is inside Handle() then, which must not
// see its own answers arrive before it returns.
//
// Thread rule: Complete() and Misused() from any thread; Cut() and the delivery on the loop
// thread.
#ifndef SERVER_DISPATCH_ANSWER_LINK_H_
#define SERVER_DISPATCH_ANSWER_LINK_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/event_loop.h"
#include "handlers/answers.h"
#include "server/stats/stats.h"

namespace server {

// Where a late answer goes, on the loop thread.
class LateAnswerTarget {
 public:
  virtual ~LateAnswerTarget() = default;
  // `frame` is the whole reply frame.
  virtual void OnLateAnswer(uint64_t request, std::string frame, bool is_error,
                            bool close_after) = 0;
  // Handling a request now (an answer given inside Handle() must wait for the next task).
  virtual bool dispatching() const = 0;
};

class AnswerLink : public handlers::internal::AnswerSink {
 public:
  // On the loop thread. `discarded` counts the answers that find the target gone, `misuse` the
  // handler's misuses of its completions; both outlive every task posted to `loop` (they are
  // the worker's).
  AnswerLink(LateAnswerTarget* target, std::shared_ptr<common::TaskQueue> loop,
             uint32_t max_frame_bytes, Counter* discarded, Counter* misuse)
      : target_(target),
        loop_(std::move(loop)),
        loop_thread_(std::this_thread::get_id()),
        max_frame_bytes_(max_frame_bytes),
        discarded_(discarded),
        misuse_(misuse) {}

  void Complete(uint64_t request, absl::Status status, std::string payload,
                bool close_after) override;
  // Counted on the loop; a debug build stops here unless the connection has closed (then no
  // client waits for the answer: completions a test or a shutdown leaves behind).
  void Misused(uint64_t request, absl::string_view what) override;

  // Loop thread: the target is gone.
  void Cut() {
    target_ = nullptr;
    cut_.store(true, std::memory_order_relaxed);
  }

 private:
  struct Answer {
    uint64_t request;
    std::string frame;
    bool is_error;
    bool close_after;
  };
  // Loop thread: hands the queued answers to the target (or discards them if it is gone).
  void Deliver();

  LateAnswerTarget* target_;  // loop thread only; null once cut
  std::atomic<bool> cut_{false};  // the same, for other threads
  const std::shared_ptr<common::TaskQueue> loop_;
  const std::thread::id loop_thread_;  // made on the loop thread
  const uint32_t max_frame_bytes_;
  Counter* const discarded_;
  Counter* const misuse_;
  std::mutex mu_;
  std::vector<Answer> queued_;      // guarded by mu_; a task is posted when it stops being empty
  std::vector<Answer> delivering_;  // loop thread only: kept for its capacity
};

}  // namespace server

#endif  // SERVER_DISPATCH_ANSWER_LINK_H_
