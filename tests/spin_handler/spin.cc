// `spin`: spends 1 ms of its worker's time on each request (busy, not blocked), then echoes it.
// Makes a burst of pipelined requests take a known time on one worker, for the fairness test.
#include <chrono>
#include <memory>

#include "handlers/registry.h"

namespace {

class SpinHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
    while (std::chrono::steady_clock::now() < until) {
    }
    reply.Append(request);
    return absl::OkStatus();
  }
};

}  // namespace

REGISTER_HANDLER(spin, "Test only: keeps its worker busy for 1 ms, then echoes.",
                 [](const handlers::HandlerContext&) { return std::make_unique<SpinHandler>(); });
