// Makes --handler=sleep available in any binary that links //handlers/sleep, with its own flag.
#include <memory>

#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "handlers/registry.h"
#include "handlers/service.h"
#include "handlers/sleep/sleep.h"

DEFINE_int64(sleep_max_ms, handlers::kMaxSleepMillis,
             "sleep handler: the longest sleep a request may ask for, in milliseconds "
             "(0..10000); a request for more gets an INVALID_ARGUMENT error reply.");

namespace handlers {
namespace {

// What the connections share: the bound, the counter, and the sleeps a shutdown wakes.
class SleepService : public Service {
 public:
  absl::Status Start(StartContext& context) override {
    if (FLAGS_sleep_max_ms < 0 || FLAGS_sleep_max_ms > kMaxSleepMillis) {
      return absl::InvalidArgumentError(
          absl::StrCat("--sleep_max_ms must be in 0..", kMaxSleepMillis));
    }
    max_ms_ = FLAGS_sleep_max_ms;
    sleeps_ = context.AddCounter("sleeps");
    return absl::OkStatus();
  }
  std::unique_ptr<Handler> NewHandler(const HandlerContext&) override {
    return std::make_unique<SleepHandler>(max_ms_, sleeps_, &wakeup_);
  }
  void Drain() override { wakeup_.WakeAll(); }

 private:
  int64_t max_ms_ = kMaxSleepMillis;
  HandlerCounter* sleeps_ = nullptr;
  Wakeup wakeup_;
};

}  // namespace
}  // namespace handlers

REGISTER_SERVICE(sleep,
                 "Sleeps for the payload's milliseconds (0..10000) on a handler thread, then "
                 "returns the payload.",
                 handlers::SleepService);
