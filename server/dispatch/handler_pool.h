// HandlerPool: the fixed set of threads that run offloaded handler calls, with a bounded queue.
//
// Workers never block: a call a handler offloads (Reply::Offload) becomes work here (Thrift's
// TNonblockingServer hands frames to its ThreadManager the same way). The bound is server-wide:
// a worker takes a place per request with TryAcquire() before handing it over, so it can answer
// "overloaded" at once instead of queueing without limit, and the place is given back with
// Release() once the call has run.
//
//   HandlerPool pool(/*threads=*/16, /*max_places=*/4096);
//   pool.Start();
//   if (pool.TryAcquire()) pool.Run([&] { Call(); pool.Release(); }); else { /* overloaded */ }
//   pool.Stop();   // drops tasks not started, waits for running ones
//
// Thread-safe (std::mutex and std::condition_variable, which TSan understands).
#ifndef SERVER_DISPATCH_HANDLER_POOL_H_
#define SERVER_DISPATCH_HANDLER_POOL_H_

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
  HandlerPool(int threads, int max_places);
  ~HandlerPool();  // Stop()
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  void Start();

  // Takes a place for one request; false if max_places are already taken.
  bool TryAcquire();
  // Gives a place back.
  void Release() { places_.fetch_sub(1, std::memory_order_relaxed); }
  // Queues `task` for a handler thread. After Stop() it is destroyed unrun.
  void Run(std::function<void()> task);

  // Tasks not yet started are destroyed unrun; running ones are waited for. Idempotent.
  void Stop();

  // Places taken now.
  int places() const { return places_.load(std::memory_order_relaxed); }

 private:
  void Loop();

  const int threads_count_;
  const int max_places_;
  std::atomic<int> places_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace server

#endif  // SERVER_DISPATCH_HANDLER_POOL_H_
