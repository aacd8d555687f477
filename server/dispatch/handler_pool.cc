#include "server/dispatch/handler_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/thread_name.h"

namespace server {

HandlerPool::HandlerPool(int threads, int max_places)
    : threads_count_(threads), max_places_(max_places) {}

HandlerPool::~HandlerPool() { Stop(); }

void HandlerPool::Start() {
  for (int i = 0; i < threads_count_; ++i) {
    threads_.emplace_back([this, i] {
      common::NameThisThread(absl::StrCat("handler-", i));
      Loop();
    });
  }
}

bool HandlerPool::TryAcquire() {
  int now = places_.load(std::memory_order_relaxed);
  do {
    if (now >= max_places_) return false;
  } while (!places_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
  return true;
}

void HandlerPool::Run(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;  // `task` is destroyed unrun
  queue_.push_back(std::move(task));
  wake_.notify_one();
}

void HandlerPool::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
    wake_.notify_all();
  }
  dropped.clear();  // outside the lock: destroying a task may complete a request
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void HandlerPool::Loop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace server
