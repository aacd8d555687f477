#include "server/service/watchdog.h"

#include <chrono>

#include "common/clock.h"
#include "common/thread_name.h"
#include "glog/logging.h"
#include "server/service/notify.h"

namespace service {

Watchdog::Watchdog(absl::Duration period, std::function<void()> wake,
                   std::function<int64_t()> oldest_turn_ns, std::function<void()> ping)
    : period_(period),
      wake_(std::move(wake)),
      oldest_turn_ns_(std::move(oldest_turn_ns)),
      ping_(ping ? std::move(ping) : [] { Notify("WATCHDOG=1"); }) {}

Watchdog::~Watchdog() { Stop(); }

void Watchdog::Start() {
  if (period_ <= absl::ZeroDuration() || thread_.joinable()) return;
  thread_ = std::thread([this] {
    common::NameThisThread("watchdog");
    Run();
  });
}

void Watchdog::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t Watchdog::missed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return missed_;
}

void Watchdog::Run() {
  const auto period = std::chrono::nanoseconds(absl::ToInt64Nanoseconds(period_));
  int64_t woken_ns = common::MonotonicNanos();
  wake_();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_cv_.wait_for(lock, period, [this] { return stopping_; })) {
    const bool turned = oldest_turn_ns_() >= woken_ns;
    if (turned) {
      ping_();
    } else if (++missed_ == 1 || missed_ % 10 == 0) {
      LOG(ERROR) << "watchdog: a worker's loop has not turned for "
                 << absl::Nanoseconds(common::MonotonicNanos() - woken_ns)
                 << "; not pinging systemd (" << missed_ << " rounds missed)";
    }
    // A stuck loop keeps its old stamp: its first turn after the wake-up below counts.
    if (turned) woken_ns = common::MonotonicNanos();
    wake_();
  }
}

}  // namespace service
