// `stall`: a request "N" keeps its worker's loop busy for N milliseconds (at most 10000), on
// the loop thread itself, as a handler that wrongly blocks would; then it answers "N". Anything
// else is an INVALID_ARGUMENT error reply.
#include <chrono>
#include <memory>

#include "absl/strings/numbers.h"
#include "handlers/registry.h"

namespace {

class StallHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    int ms = 0;
    if (!absl::SimpleAtoi(request, &ms) || ms < 0 || ms > 10000) {
      return absl::InvalidArgumentError("expected milliseconds, 0..10000");
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
    }
    reply.Append(request);
    return absl::OkStatus();
  }
};

}  // namespace

REGISTER_HANDLER(stall, "Test only: request N keeps its worker's loop busy N ms, then echoes.",
                 [](const handlers::HandlerContext&) { return std::make_unique<StallHandler>(); });
