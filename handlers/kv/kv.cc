#include "handlers/kv/kv.h"

#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace handlers {
namespace {

enum class Kind { kSet, kGet, kDel };

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

void AnswerGet(std::optional<absl::string_view> value, Reply& reply) {
  if (!value.has_value()) {
    reply.Append("-NOT_FOUND");
    return;
  }
  char* out = reply.AppendUninitialized(1 + value->size());
  out[0] = '+';
  std::memcpy(out + 1, value->data(), value->size());
}

void AnswerGet(const std::optional<std::string>& value, Reply& reply) {
  AnswerGet(value.has_value() ? std::optional<absl::string_view>(*value) : std::nullopt, reply);
}

// Answers a GET from what the store has for `key`, and keeps it in `values` unless a write
// came meanwhile (`ticket`: RecentValues::Read's).
void AnswerRead(RecentValues& values, absl::string_view key, uint64_t ticket,
                const std::optional<std::string>& value, Reply& reply) {
  values.Fill(key, ticket, value);
  AnswerGet(value, reply);
}

}  // namespace

absl::Status KvHandler::Handle(absl::string_view request, Reply& reply) {
  absl::StatusOr<Parsed> command = Parse(request);
  if (!command.ok()) return command.status();
  if (command->kind != Kind::kGet) {
    // Refused (not queued) if the memory budget has no room: the client gets the error reply.
    return commits_->Add(command->kind == Kind::kSet ? KvStore::Command::Kind::kSet
                                                     : KvStore::Command::Kind::kDel,
                         command->key, command->value, reply, turn_end_);
  }
  RecentValues& values = commits_->values();
  uint64_t ticket;
  const auto answer = [&reply](std::optional<absl::string_view> value) { AnswerGet(value, reply); };
  if (values.Read(command->key, answer, &ticket)) return absl::OkStatus();
  std::optional<std::string> value;
  absl::StatusOr<KvStore::Outcome> outcome = store_->GetIfCached(command->key, &value);
  if (!outcome.ok()) return outcome.status();
  if (*outcome == KvStore::Outcome::kWouldBlock) {
    // It must read a file: on a handler thread. This connection's next request waits for it.
    reply.Offload([store = store_, values = &values](absl::string_view request,
                                                     Reply& reply) -> absl::Status {
      const absl::string_view key = Parse(request)->key;
      uint64_t ticket;  // a write of the key handled meanwhile, on another connection, counts
      const auto answer = [&reply](std::optional<absl::string_view> value) {
        AnswerGet(value, reply);
      };
      if (values->Read(key, answer, &ticket)) return absl::OkStatus();
      absl::StatusOr<std::optional<std::string>> read = store->Get(key);
      if (!read.ok()) return read.status();
      AnswerRead(*values, key, ticket, *read, reply);
      return absl::OkStatus();
    });
    return absl::OkStatus();
  }
  AnswerRead(values, command->key, ticket, value, reply);
  return absl::OkStatus();
}

}  // namespace handlers
