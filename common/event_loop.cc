#include "common/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "glog/logging.h"

namespace common {
namespace {
// Events taken from the kernel per turn.
constexpr int kMaxEventsPerTurn = 256;

void CallWatchers(const epoll_event* events, int n) {
  for (int i = 0; i < n; ++i) Poller::WatcherOf(events[i])->OnEvents(events[i].events);
}
}  // namespace

TaskQueue::TaskQueue() : wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

TaskQueue::~TaskQueue() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool TaskQueue::Post(std::function<void()> task) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  if (was_empty) {  // one wake-up per batch of tasks
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
  return true;
}

std::vector<std::function<void()>> TaskQueue::Take() {
  uint64_t count;
  (void)!read(wake_fd_, &count, sizeof(count));
  std::vector<std::function<void()>> tasks;
  std::lock_guard<std::mutex> lock(mu_);
  tasks.swap(tasks_);
  return tasks;
}

void TaskQueue::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  tasks_.clear();
}

EventLoop::EventLoop() : tasks_(std::make_shared<TaskQueue>()) {}

EventLoop::~EventLoop() { tasks_->Close(); }

absl::Status EventLoop::Init(IoBackend backend) {
  if (tasks_->wake_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  if (absl::Status status = poller_.Init(); !status.ok()) return status;
  if (backend == IoBackend::kIoUring) {
    absl::StatusOr<std::unique_ptr<Uring>> uring = Uring::Create();
    if (uring.ok()) {
      uring_ = *std::move(uring);
      uring_->WatchReadable(tasks_->wake_fd_, this, /*multishot=*/true);
      uring_->WatchReadable(poller_.fd(), &poller_ready_, /*multishot=*/false);
      return absl::OkStatus();
    }
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true)) {
      LOG(WARNING) << "io_uring cannot be set up (" << uring.status().message()
                   << "); using epoll";
    }
  }
  return poller_.Set(tasks_->wake_fd_, EPOLLIN, this, /*registered=*/false);
}

void EventLoop::Run(const TurnCallback& turn) {
  int64_t deadline_ns = 0;  // the first turn runs at once
  while (!quit_) {
    const int n = RunOnce(WaitMillis(deadline_ns));
    deadline_ns = turn(now_ns_, n);
  }
  tasks_->Close();
}

int EventLoop::RunOnce(int timeout_ms) {
  if (!started_) {
    started_ = true;
    thread_id_ = std::this_thread::get_id();
    if (uring_ != nullptr) {  // the ring's one submitter is this thread
      const absl::Status enabled = uring_->Enable();
      CHECK(enabled.ok()) << enabled;
    }
  }
  return WaitAndDispatch(timeout_ms);
}

int EventLoop::WaitAndDispatch(int timeout_ms) {
  if (uring_ == nullptr) {
    epoll_event events[kMaxEventsPerTurn];
    const int n = poller_.Wait(events, kMaxEventsPerTurn, timeout_ms);
    now_ns_ = MonotonicNanos();  // the turn's time is the wake-up's, before any watcher runs
    CallWatchers(events, n);
    return n;
  }
  uring_->SubmitAndWait(timeout_ms);
  now_ns_ = MonotonicNanos();
  return uring_->Dispatch();
}

// The ring said the epoll set is readable: take its events without waiting.
void EventLoop::PollerReady::OnEvents(uint32_t) {
  epoll_event events[kMaxEventsPerTurn];
  CallWatchers(events, poller_->Wait(events, kMaxEventsPerTurn, 0));
}

void EventLoop::Quit() {
  DCHECK(IsInLoopThread());
  quit_ = true;
}

void EventLoop::OnEvents(uint32_t) {
  for (std::function<void()>& task : tasks_->Take()) task();
}

int EventLoop::WaitMillis(int64_t deadline_ns) const {
  if (deadline_ns == kNoDeadline) return -1;
  const int64_t wait_ns = deadline_ns - MonotonicNanos();
  if (wait_ns <= 0) return 0;
  return static_cast<int>(std::min<int64_t>((wait_ns + 999'999) / 1'000'000, kMaxWaitMillis));
}

}  // namespace common
