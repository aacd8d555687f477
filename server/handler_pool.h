// HandlerPool: the fixed set of threads that run blocking handler calls, with a bounded queue.
//
// Workers never block: a blocking handler's request becomes a task here (Thrift's
// TNonblockingServer hands frames to its ThreadManager the same way). The bound is server-wide
// and counts tasks waiting and running; a worker first takes a place with TryAcquire(), so it
// can answer "overloaded" at once instead of queueing without limit.
//
//   HandlerPool pool(/*threads=*/16, /*max_tasks=*/4096);
//   pool.Start();
//   if (pool.TryAcquire()) pool.Run([] { ... }); else { /* RESOURCE_EXHAUSTED reply */ }
//   pool.Stop();   // drops tasks not started, waits for running ones
//
// Thread-safe (std::mutex and std::condition_variable, which TSan understands).
#ifndef SERVER_HANDLER_POOL_H_
#define SERVER_HANDLER_POOL_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace server {

class HandlerPool {
 public:
  HandlerPool(int threads, int max_tasks);
  ~HandlerPool();  // Stop()
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  void Start();

  // Takes a place for one task; false if max_tasks are already waiting or running.
  bool TryAcquire();
  // Queues `task` on a place taken with TryAcquire().
  void Run(std::function<void()> task);

  // Tasks not yet started are destroyed unrun; running ones are waited for. Idempotent.
  void Stop();

  // Tasks waiting or running, now.
  int tasks() const { return tasks_.load(std::memory_order_relaxed); }

 private:
  void Loop();

  const int threads_count_;
  const int max_tasks_;
  std::atomic<int> tasks_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace server

#endif  // SERVER_HANDLER_POOL_H_
