#include "server/service/notify.h"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <string>

namespace service {

bool Notify(absl::string_view state) {
  return sd_notify(/*unset_environment=*/0, std::string(state).c_str()) > 0;
}

absl::Duration WatchdogPeriod() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) <= 0 || usec == 0) {
    return absl::ZeroDuration();
  }
  return absl::Microseconds(usec) / 2;
}

}  // namespace service
