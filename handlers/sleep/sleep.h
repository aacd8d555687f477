// SleepHandler: the demonstration of a handler that waits, by offloading the wait.
//
// The payload is an ASCII decimal number of milliseconds, 0..--sleep_max_ms (at most 10000).
// Handle() checks it on the worker's loop (a bad one gets an INVALID_ARGUMENT error reply at
// once) and offloads the sleep (Reply::Offload): the call sleeps that long on a handler thread
// and replies with the payload unchanged. The service (SleepService, register.cc) owns what
// its connections share: the bound, the counter, and the Wakeup a shutdown rings.
#ifndef HANDLERS_SLEEP_SLEEP_H_
#define HANDLERS_SLEEP_SLEEP_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "absl/status/status.h"
#include "handlers/handler.h"

namespace handlers {

// The longest sleep a request may ask for.
inline constexpr int64_t kMaxSleepMillis = 10000;

// Sleeps that a shutdown cuts short. Thread-safe (std::mutex: TSan sees it).
class Wakeup {
 public:
  // Sleeps `duration`; false if woken first.
  bool SleepFor(std::chrono::milliseconds duration);
  // Wakes every sleeper, and makes later sleeps return at once.
  void WakeAll();

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  bool woken_ = false;  // guarded by mu_
};

class SleepHandler : public Handler {
 public:
  // `max_ms` bounds the requests; `sleeps` counts completed sleeps (may be null); `wakeup` (not
  // owned) outlives the handler's calls.
  SleepHandler(int64_t max_ms, HandlerCounter* sleeps, Wakeup* wakeup)
      : max_ms_(max_ms), sleeps_(sleeps), wakeup_(wakeup) {}
  absl::Status Handle(absl::string_view request, Reply& reply) override;

 private:
  const int64_t max_ms_;
  HandlerCounter* const sleeps_;
  Wakeup* const wakeup_;
};

}  // namespace handlers

#endif  // HANDLERS_SLEEP_SLEEP_H_
