// Makes --handler=sleep available in any binary that links //handlers/sleep, with its own flag.
#include <memory>

#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "handlers/registry.h"
#include "handlers/sleep/sleep.h"

DEFINE_int64(sleep_max_ms, handlers::kMaxSleepMillis,
             "sleep handler: the longest sleep a request may ask for, in milliseconds "
             "(0..10000); a request for more gets an INVALID_ARGUMENT error reply.");

namespace handlers {
namespace {

HandlerCounter* sleeps = nullptr;  // set by the start hook, before any connection

absl::Status StartSleep(StartContext& context) {
  if (FLAGS_sleep_max_ms < 0 || FLAGS_sleep_max_ms > kMaxSleepMillis) {
    return absl::InvalidArgumentError(
        absl::StrCat("--sleep_max_ms must be in 0..", kMaxSleepMillis));
  }
  sleeps = context.AddCounter("sleeps");
  return absl::OkStatus();
}

}  // namespace
}  // namespace handlers

REGISTER_HANDLER_INFO(sleep, {
    .description = "Sleeps for the payload's milliseconds (0..10000) on a handler thread, then "
                   "returns the payload.",
    .factory = [](const handlers::HandlerContext&) -> std::unique_ptr<handlers::Handler> {
      return std::make_unique<handlers::SleepHandler>(FLAGS_sleep_max_ms, handlers::sleeps);
    },
    .start = handlers::StartSleep,
    .drain = handlers::SleepHandler::WakeAll,
});
