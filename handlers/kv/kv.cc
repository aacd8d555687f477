#include "handlers/kv/kv.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace handlers {
namespace {

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(why, "; commands: SET <key> <value>, GET <key>, DEL <key>"));
}

absl::Status CheckKey(absl::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return Malformed("a key is 1..250 bytes");
  if (absl::StrContains(key, ' ')) return Malformed("a key has no space");
  return absl::OkStatus();
}

}  // namespace

absl::Status KvHandler::Handle(absl::string_view request, Reply& reply) {
  if (absl::ConsumePrefix(&request, "SET ")) {
    const size_t space = request.find(' ');
    if (space == absl::string_view::npos) return Malformed("SET needs a space after the key");
    const absl::string_view key = request.substr(0, space);
    if (absl::Status status = CheckKey(key); !status.ok()) return status;
    if (absl::Status status = store_->Set(key, request.substr(space + 1)); !status.ok()) {
      return status;
    }
    reply.Append("+");
    return absl::OkStatus();
  }
  if (absl::ConsumePrefix(&request, "GET ")) {
    if (absl::Status status = CheckKey(request); !status.ok()) return status;
    absl::StatusOr<std::optional<std::string>> value = store_->Get(request);
    if (!value.ok()) return value.status();
    if (!value->has_value()) {
      reply.Append("-NOT_FOUND");
    } else {
      reply.Append("+");
      reply.Append(**value);
    }
    return absl::OkStatus();
  }
  if (absl::ConsumePrefix(&request, "DEL ")) {
    if (absl::Status status = CheckKey(request); !status.ok()) return status;
    if (absl::Status status = store_->Del(request); !status.ok()) return status;
    reply.Append("+");
    return absl::OkStatus();
  }
  return Malformed("unknown command");
}

}  // namespace handlers
