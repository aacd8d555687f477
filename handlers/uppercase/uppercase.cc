#include "handlers/uppercase/uppercase.h"

namespace handlers {

absl::Status UppercaseHandler::Handle(absl::string_view request, Reply& reply) {
  char* out = reply.AppendUninitialized(request.size());
  for (size_t i = 0; i < request.size(); ++i) {
    const char c = request[i];
    // Not std::toupper: it depends on the locale and could touch bytes >= 0x80.
    out[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return absl::OkStatus();
}

}  // namespace handlers
