#include "handlers/sleep/sleep.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace handlers {

bool Wakeup::SleepFor(std::chrono::milliseconds duration) {
  std::unique_lock<std::mutex> lock(mu_);
  return !wake_.wait_for(lock, duration, [&] { return woken_; });
}

void Wakeup::WakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  woken_ = true;
  wake_.notify_all();
}

absl::Status SleepHandler::Handle(absl::string_view request, Reply& reply) {
  int64_t ms = -1;
  const bool digits_only =
      !request.empty() && request.size() <= 5 &&
      std::all_of(request.begin(), request.end(), [](char c) { return absl::ascii_isdigit(c); });
  if (!digits_only || !absl::SimpleAtoi(request, &ms) || ms > max_ms_) {
    return absl::InvalidArgumentError(
        absl::StrCat("sleep wants a decimal number of milliseconds, 0..", max_ms_));
  }
  reply.Offload([ms, sleeps = sleeps_, wakeup = wakeup_](absl::string_view request,
                                                          Reply& reply) {
    if (!wakeup->SleepFor(std::chrono::milliseconds(ms))) {
      return absl::UnavailableError("server shutting down");
    }
    if (sleeps != nullptr) sleeps->Add();
    reply.Append(request);
    return absl::OkStatus();
  });
  return absl::OkStatus();
}

}  // namespace handlers
