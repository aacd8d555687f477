// Watchdog: pings systemd (WATCHDOG=1) every period, but only while every worker's loop turns.
//
// A loop that waits for events may sleep for a long time, so each round the watchdog first
// wakes every loop (`wake`, a task posted to each); one period later it asks `oldest_turn_ns`
// (the earliest of the loops' last turns, on common::MonotonicNanos()'s clock) and pings only
// if every loop has turned since that wake-up. A worker stuck in a handler, or a loop that
// blocks, does not turn: the pings stop and systemd restarts the service after WatchdogSec=.
//
//   service::Watchdog dog(service::WatchdogPeriod(), [&] { server.WakeWorkers(); },
//                         [&] { return server.OldestTurnNs(); });
//   dog.Start();   // a thread of its own
//   ...
//   dog.Stop();    // the drain begins: no more pings
#ifndef SERVER_SERVICE_WATCHDOG_H_
#define SERVER_SERVICE_WATCHDOG_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace service {

class Watchdog {
 public:
  // `ping` sends one WATCHDOG=1 (by default service::Notify's).
  Watchdog(absl::Duration period, std::function<void()> wake,
           std::function<int64_t()> oldest_turn_ns, std::function<void()> ping = nullptr);
  ~Watchdog();  // Stop()
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Starts the thread (nothing if the period is zero).
  void Start();
  // Idempotent; returns once the thread has stopped.
  void Stop();

  // Rounds whose check failed (a loop did not turn), for the log and tests.
  int64_t missed() const;

 private:
  void Run();

  const absl::Duration period_;
  const std::function<void()> wake_;
  const std::function<int64_t()> oldest_turn_ns_;
  const std::function<void()> ping_;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  int64_t missed_ = 0;
  std::thread thread_;
};

}  // namespace service

#endif  // SERVER_SERVICE_WATCHDOG_H_
