// SerialCalls: one connection's blocking calls, run one at a time and in order on the handler
// threads (a strand, as asio calls it).
//
// Requests of one connection are not run in parallel: a pipelining client's SET then GET reads
// its own write, and a handler instance is never called from two threads at once (the mutex
// here orders the calls, so per-connection state needs no lock of its own). Other connections'
// calls run in parallel on the other threads.
//
//   auto calls = std::make_shared<SerialCalls>(&pool);
//   calls->Add([] { ... });   // the loop thread; a place was taken with pool.TryAcquire()
//
// Each call gives its place back to the pool when it has run. Thread-safe (std::mutex).
#ifndef SERVER_DISPATCH_SERIAL_CALLS_H_
#define SERVER_DISPATCH_SERIAL_CALLS_H_

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "server/dispatch/handler_pool.h"

namespace server {

class SerialCalls : public std::enable_shared_from_this<SerialCalls> {
 public:
  explicit SerialCalls(HandlerPool* pool) : pool_(pool) {}

  void Add(std::function<void()> call) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(std::move(call));
      if (running_) return;  // the running task takes it next
      running_ = true;
    }
    pool_->Run([self = shared_from_this()] { self->RunAll(); });
  }

  // Whether no call is queued or running. Once true, everything the calls did is visible to
  // the caller (the mutex orders it).
  bool idle() {
    std::lock_guard<std::mutex> lock(mu_);
    return !running_;
  }

 private:
  void RunAll() {
    while (true) {
      std::function<void()> call;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (calls_.empty()) {
          running_ = false;
          return;
        }
        call = std::move(calls_.front());
        calls_.pop_front();
      }
      call();
      call = nullptr;  // the request and its completion go before the place is given back
      pool_->Release();
    }
  }

  HandlerPool* const pool_;  // the server's; outlives every connection's calls
  std::mutex mu_;
  std::deque<std::function<void()>> calls_;  // guarded by mu_
  bool running_ = false;                     // guarded by mu_: a pool task is draining calls_
};

}  // namespace server

#endif  // SERVER_DISPATCH_SERIAL_CALLS_H_
