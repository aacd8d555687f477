// UppercaseHandler: replies with the payload's ASCII letters a-z upper-cased and every other
// byte unchanged, so UTF-8 (whose multi-byte sequences never contain ASCII bytes) stays valid.
#ifndef HANDLERS_UPPERCASE_UPPERCASE_H_
#define HANDLERS_UPPERCASE_UPPERCASE_H_

#include "handlers/handler.h"

namespace handlers {

class UppercaseHandler : public Handler {
 public:
  absl::Status Handle(absl::string_view request, Reply& reply) override;
};

}  // namespace handlers

#endif  // HANDLERS_UPPERCASE_UPPERCASE_H_
