// A handler that fails on purpose, for tests of the error-reply path (docs/protocol.md):
//   "fail:<message>"  -> returns an INVALID_ARGUMENT status with <message>
//   "throw:<message>" -> throws std::runtime_error(<message>)
//   "big:<n>"         -> replies with n bytes (to exceed --max_frame_bytes)
//   anything else     -> echoed
// Before failing it writes some reply bytes, which the server must discard.
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "handlers/handler.h"
#include "handlers/registry.h"

namespace {

class FailingHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    if (absl::ConsumePrefix(&request, "fail:")) {
      reply.Append("partial reply, never sent");
      return absl::InvalidArgumentError(request);
    }
    if (absl::ConsumePrefix(&request, "throw:")) {
      reply.Append("partial reply, never sent");
      throw std::runtime_error(std::string(request));
    }
    size_t size = 0;
    if (absl::ConsumePrefix(&request, "big:") && absl::SimpleAtoi(request, &size)) {
      std::memset(reply.AppendUninitialized(size), 'b', size);
      return absl::OkStatus();
    }
    reply.Append(request);
    return absl::OkStatus();
  }
};

}  // namespace

REGISTER_HANDLER(failing, "Test only: fails on request (fail:, throw:, big:).",
                 [](const handlers::HandlerContext&) { return std::make_unique<FailingHandler>(); });
