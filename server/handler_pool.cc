#include "server/handler_pool.h"

#include <utility>

namespace server {

HandlerPool::HandlerPool(int threads, int max_tasks)
    : threads_count_(threads), max_tasks_(max_tasks) {}

HandlerPool::~HandlerPool() { Stop(); }

void HandlerPool::Start() {
  for (int i = 0; i < threads_count_; ++i) threads_.emplace_back([this] { Loop(); });
}

bool HandlerPool::TryAcquire() {
  int now = tasks_.load(std::memory_order_relaxed);
  do {
    if (now >= max_tasks_) return false;
  } while (!tasks_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
  return true;
}

void HandlerPool::Run(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(task));
      wake_.notify_one();
      return;
    }
  }
  tasks_.fetch_sub(1, std::memory_order_relaxed);  // stopped: `task` is destroyed unrun
}

void HandlerPool::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
    wake_.notify_all();
  }
  tasks_.fetch_sub(static_cast<int>(dropped.size()), std::memory_order_relaxed);
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
    task = nullptr;  // its captures (the request, the handler) go before the place is freed
    tasks_.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace server
