#include "handlers/kv/kv.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace handlers {
namespace {

using Kind = KvStore::Command::Kind;

// A parsed command; views into the request.
struct Parsed {
  Kind kind;
  absl::string_view key;
  absl::string_view value;  // kSet only
};

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(why, "; commands: SET <key> <value>, GET <key>, DEL <key>"));
}

absl::Status CheckKey(absl::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return Malformed("a key is 1..250 bytes");
  if (absl::StrContains(key, ' ')) return Malformed("a key has no space");
  return absl::OkStatus();
}

absl::StatusOr<Parsed> Parse(absl::string_view request) {
  Parsed parsed;
  if (absl::ConsumePrefix(&request, "SET ")) {
    const size_t space = request.find(' ');
    if (space == absl::string_view::npos) return Malformed("SET needs a space after the key");
    parsed = {Kind::kSet, request.substr(0, space), request.substr(space + 1)};
  } else if (absl::ConsumePrefix(&request, "GET ")) {
    parsed = {Kind::kGet, request, {}};
  } else if (absl::ConsumePrefix(&request, "DEL ")) {
    parsed = {Kind::kDel, request, {}};
  } else {
    return Malformed("unknown command");
  }
  if (absl::Status status = CheckKey(parsed.key); !status.ok()) return status;
  return parsed;
}

void AnswerGet(const std::optional<std::string>& value, Reply& reply) {
  if (!value.has_value()) {
    reply.Append("-NOT_FOUND");
    return;
  }
  reply.Append("+");
  reply.Append(*value);
}

}  // namespace

absl::Status KvHandler::Handle(absl::string_view request, Reply& reply) {
  absl::StatusOr<Parsed> command = Parse(request);
  if (!command.ok()) return command.status();
  switch (command->kind) {
    case Kind::kSet:
      if (absl::Status status = store_->Set(command->key, command->value); !status.ok()) {
        return status;
      }
      break;
    case Kind::kDel:
      if (absl::Status status = store_->Del(command->key); !status.ok()) return status;
      break;
    case Kind::kGet: {
      absl::StatusOr<std::optional<std::string>> value = store_->Get(command->key);
      if (!value.ok()) return value.status();
      AnswerGet(*value, reply);
      return absl::OkStatus();
    }
  }
  reply.Append("+");
  return absl::OkStatus();
}

absl::StatusOr<bool> KvHandler::HandleWithoutBlocking(absl::string_view request, Reply& reply) {
  absl::StatusOr<Parsed> command = Parse(request);
  if (!command.ok()) return command.status();
  // A write waits for the next group commit; so does anything behind one (in order).
  if (command->kind != Kind::kGet || queued_->load(std::memory_order_acquire) > 0) {
    if (absl::Status status = commits_->Add(command->kind, command->key, command->value, reply,
                                            queued_);
        !status.ok()) {
      return status;  // refused, not queued: the client gets the error reply
    }
    return true;
  }
  std::optional<std::string> value;
  absl::StatusOr<KvStore::Outcome> outcome = store_->GetIfCached(command->key, &value);
  if (!outcome.ok()) return outcome.status();
  if (*outcome == KvStore::Outcome::kWouldBlock) return false;  // Handle() on a handler thread
  AnswerGet(value, reply);
  return true;
}

}  // namespace handlers
