#include "handlers/sleep/sleep.h"

#include <chrono>
#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace handlers {
namespace {

// Shared by every instance: a shutdown wakes them all. std::mutex: TSan sees it.
std::mutex wake_mu;
std::condition_variable wake;
bool woken = false;  // guarded by wake_mu

}  // namespace

absl::Status SleepHandler::Handle(absl::string_view request, Reply& reply) {
  int64_t ms = -1;
  const bool digits_only =
      !request.empty() && request.size() <= 5 &&
      std::all_of(request.begin(), request.end(), [](char c) { return absl::ascii_isdigit(c); });
  if (!digits_only || !absl::SimpleAtoi(request, &ms) || ms > max_ms_) {
    return absl::InvalidArgumentError(
        absl::StrCat("sleep wants a decimal number of milliseconds, 0..", max_ms_));
  }
  reply.Offload([ms, sleeps = sleeps_](absl::string_view request, Reply& reply) {
    std::unique_lock<std::mutex> lock(wake_mu);
    if (wake.wait_for(lock, std::chrono::milliseconds(ms), [] { return woken; })) {
      return absl::UnavailableError("server shutting down");
    }
    lock.unlock();
    if (sleeps != nullptr) sleeps->Add();
    reply.Append(request);
    return absl::OkStatus();
  });
  return absl::OkStatus();
}

void SleepHandler::WakeAll() {
  std::lock_guard<std::mutex> lock(wake_mu);
  woken = true;
  wake.notify_all();
}

}  // namespace handlers
