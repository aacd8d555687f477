// EchoHandler: replies with the request payload unchanged. Stateless.
#ifndef HANDLERS_ECHO_ECHO_H_
#define HANDLERS_ECHO_ECHO_H_

#include "handlers/handler.h"

namespace handlers {

class EchoHandler : public Handler {
 public:
  absl::Status Handle(absl::string_view request, Reply& reply) override {
    reply.Append(request);
    return absl::OkStatus();
  }
};

}  // namespace handlers

#endif  // HANDLERS_ECHO_ECHO_H_
