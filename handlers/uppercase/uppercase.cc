#include "handlers/uppercase/uppercase.h"

#include "absl/strings/ascii.h"

namespace handlers {

absl::Status UppercaseHandler::Handle(absl::string_view request, Reply& reply) {
  char* out = reply.AppendUninitialized(request.size());
  for (size_t i = 0; i < request.size(); ++i) {
    // absl::ascii_toupper, not std::toupper: the locale never touches bytes >= 0x80.
    out[i] = absl::ascii_toupper(static_cast<unsigned char>(request[i]));
  }
  return absl::OkStatus();
}

}  // namespace handlers
