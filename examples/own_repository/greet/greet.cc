// greet: replies "hello, " followed by the payload.
#include <memory>

#include "handlers/registry.h"

namespace {

class GreetHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    reply.Append("hello, ");
    reply.Append(request);
    return absl::OkStatus();
  }
};

}  // namespace

REGISTER_HANDLER(greet, "Replies 'hello, ' followed by the payload.",
                 [](const handlers::HandlerContext&) { return std::make_unique<GreetHandler>(); });
