// EventLoop: one thread's loop over an epoll set, with a cross-thread task queue and one
// "after each turn" callback that also says when the loop must wake next (timers).
//
// One per thread, as in muduo: the workers, the acceptor and the bench's threads each run one.
// Descriptors are registered on poller() with a Watcher; Post() hands work to the loop thread
// from any thread (a locked queue plus an eventfd wake-up).
//
// Two backends (docs/DESIGN.md, "The io_uring backend"). On epoll, each turn waits in
// epoll_wait. On io_uring (Init(IoBackend::kIoUring)), each turn is one io_uring_enter that
// submits the turn's operations and waits; the epoll set and the wake-up are watched through
// the ring, and uring() offers sockets completion-based receives and sends. Where io_uring
// cannot be set up, Init logs one line (once per process) and the loop runs on epoll.
//
//   EventLoop loop;
//   CHECK_OK(loop.Init());
//   loop.poller().Set(fd, EPOLLIN, &watcher, false);
//   std::thread t([&] { loop.Run([&](int64_t now_ns, int events) { return NextTimerNs(); }); });
//   loop.Post([&] { loop.Quit(); });   // any thread
//   t.join();
//
// Thread rule: Post(), tasks() and IsInLoopThread() are thread-safe; everything else is for the
// loop thread (or before Run()).
#ifndef COMMON_EVENT_LOOP_H_
#define COMMON_EVENT_LOOP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/io_backend.h"
#include "common/poller.h"
#include "common/uring.h"

namespace common {

// The loop's inbox. Shared (std::shared_ptr), so that a completion from another thread can
// outlive the loop it was meant for: once the loop has stopped, Post() drops the task and says
// so. Guarded by std::mutex, which ThreadSanitizer understands.
class TaskQueue {
 public:
  TaskQueue();
  ~TaskQueue();
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  // Any thread. False if the loop has stopped: the task was not queued.
  bool Post(std::function<void()> task);

 private:
  friend class EventLoop;
  std::vector<std::function<void()>> Take();  // and clears the wake-up
  void Close();                               // the loop stops: refuse further tasks

  int wake_fd_ = -1;  // eventfd
  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;
  bool closed_ = false;
};

class EventLoop : private Watcher {
 public:
  // Returned by a turn callback that has no timer to wait for.
  static constexpr int64_t kNoDeadline = INT64_MAX;
  // The longest single wait, so that a clock jump or a missed deadline cannot stall a loop.
  static constexpr int kMaxWaitMillis = 60'000;
  // Called after each turn's events and tasks with the turn's time and event count; returns when
  // the loop must wake next (common::MonotonicNanos(), kNoDeadline, or 0 for "at once").
  using TurnCallback = std::function<int64_t(int64_t now_ns, int events)>;

  EventLoop();
  ~EventLoop() override;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Sets up the loop on `backend`, or on epoll if io_uring cannot be set up (see backend()).
  absl::Status Init(IoBackend backend = IoBackend::kEpoll);
  // The backend Init() settled on.
  IoBackend backend() const { return uring_ != nullptr ? IoBackend::kIoUring : IoBackend::kEpoll; }
  Poller& poller() { return poller_; }
  // On io_uring: completion-based socket I/O for the loop thread. Null on epoll.
  Uring* uring() { return uring_.get(); }

  // Any thread. False if the loop has stopped (the task is dropped).
  bool Post(std::function<void()> task) { return tasks_->Post(std::move(task)); }
  const std::shared_ptr<TaskQueue>& tasks() const { return tasks_; }
  bool IsInLoopThread() const { return std::this_thread::get_id() == thread_id_; }

  // Runs on the calling thread until Quit(); then refuses further tasks. The first turn does
  // not wait.
  void Run(const TurnCallback& turn);
  // Loop thread: Run() returns after this turn.
  void Quit();
  // One turn without the callback: waits up to `timeout_ms` (-1: no limit) for events, then
  // runs their watchers and the posted tasks; returns the number of events. For tests that
  // step a loop on their own thread, which from then on is the loop thread.
  int RunOnce(int timeout_ms);

  // The time of the current turn (the wake-up), on the loop thread.
  int64_t now_ns() const { return now_ns_; }

 private:
  // The epoll set, watched through the ring on io_uring: dispatches its ready events.
  class PollerReady : public Watcher {
   public:
    explicit PollerReady(Poller* poller) : poller_(poller) {}
    void OnEvents(uint32_t) override;

   private:
    Poller* const poller_;
  };

  void OnEvents(uint32_t events) override;  // the wake-up descriptor: run the posted tasks
  int WaitMillis(int64_t deadline_ns) const;
  int WaitAndDispatch(int timeout_ms);  // returns the number of events or completions

  Poller poller_;
  PollerReady poller_ready_{&poller_};
  std::unique_ptr<Uring> uring_;
  std::shared_ptr<TaskQueue> tasks_;
  std::thread::id thread_id_;
  int64_t now_ns_ = 0;
  bool quit_ = false;
  bool started_ = false;  // the loop thread is known (and, on io_uring, the ring enabled)
};

}  // namespace common

#endif  // COMMON_EVENT_LOOP_H_
