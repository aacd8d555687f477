// SleepHandler: the demonstration of a handler that waits, by offloading the wait.
//
// The payload is an ASCII decimal number of milliseconds, 0..--sleep_max_ms (at most 10000).
// Handle() checks it on the worker's loop (a bad one gets an INVALID_ARGUMENT error reply at
// once) and offloads the sleep (Reply::Offload): the call sleeps that long on a handler thread
// and replies with the payload unchanged. A shutdown (the drain hook) wakes every sleeper.
#ifndef HANDLERS_SLEEP_SLEEP_H_
#define HANDLERS_SLEEP_SLEEP_H_

#include <cstdint>

#include "absl/status/status.h"
#include "handlers/handler.h"

namespace handlers {

// The longest sleep a request may ask for.
inline constexpr int64_t kMaxSleepMillis = 10000;

class SleepHandler : public Handler {
 public:
  // `max_ms` bounds the requests; `sleeps` counts completed sleeps (may be null).
  SleepHandler(int64_t max_ms, HandlerCounter* sleeps) : max_ms_(max_ms), sleeps_(sleeps) {}
  absl::Status Handle(absl::string_view request, Reply& reply) override;

  // Wakes every sleeping call (they answer UNAVAILABLE) and makes later calls return at once.
  static void WakeAll();

 private:
  const int64_t max_ms_;
  HandlerCounter* const sleeps_;
};

}  // namespace handlers

#endif  // HANDLERS_SLEEP_SLEEP_H_
