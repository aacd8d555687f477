// ReverseHandler: replies with the payload's bytes in reverse order. The example handler that
// docs/writing-a-handler.md builds step by step.
#ifndef HANDLERS_REVERSE_REVERSE_H_
#define HANDLERS_REVERSE_REVERSE_H_

#include "handlers/handler.h"

namespace handlers {

class ReverseHandler : public Handler {
 public:
  absl::Status Handle(absl::string_view request, Reply& reply) override;
};

}  // namespace handlers

#endif  // HANDLERS_REVERSE_REVERSE_H_
