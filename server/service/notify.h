// Notifications to systemd (sd_notify): readiness, the drain, a status line, watchdog pings.
// Without NOTIFY_SOCKET (not started by systemd with Type=notify) each call does nothing.
//
//   service::Notify("READY=1\nSTATUS=serving on 127.0.0.1:8080");
//   service::Notify("STOPPING=1\nSTATUS=draining");
//   absl::Duration period = service::WatchdogPeriod();   // 0: no watchdog asked for
#ifndef SERVER_SERVICE_NOTIFY_H_
#define SERVER_SERVICE_NOTIFY_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace service {

// Sends `state` (newline-separated KEY=VALUE lines) to systemd. Thread-safe. Returns whether it
// was sent (false without NOTIFY_SOCKET, or if sending failed).
bool Notify(absl::string_view state);

// How often to ping: half of WATCHDOG_USEC when the watchdog is on for this process (systemd's
// WatchdogSec=), else zero.
absl::Duration WatchdogPeriod();

}  // namespace service

#endif  // SERVER_SERVICE_NOTIFY_H_
