#include "client/kv_workload.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace client {
namespace {

std::string KeyName(int64_t key) { return absl::StrFormat("key:%012d", key); }

}  // namespace

absl::StatusOr<KvMix> KvMix::Parse(absl::string_view text) {
  KvMix mix;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::pair<absl::string_view, absl::string_view> name_weight = absl::StrSplit(part, ':');
    int weight = 0;
    if (!absl::SimpleAtoi(name_weight.second, &weight) || weight < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", part, "' is not <command>:<weight>, e.g. set:1"));
    }
    if (name_weight.first == "set") {
      mix.set = weight;
    } else if (name_weight.first == "get") {
      mix.get = weight;
    } else if (name_weight.first == "del") {
      mix.del = weight;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown command '", name_weight.first, "' (set, get, del)"));
    }
  }
  if (mix.set + mix.get + mix.del == 0) {
    return absl::InvalidArgumentError("the weights add up to 0");
  }
  return mix;
}

KvWorkload::KvWorkload(KvMix mix, int64_t keys, int index, int count, int value_bytes,
                       uint64_t seed, Protocol protocol)
    : mix_(mix),
      first_key_(index),
      stride_(count),
      owned_keys_(std::max<int64_t>(1, (keys - index + count - 1) / count)),
      value_bytes_(value_bytes),
      protocol_(protocol),
      random_(seed),
      version_(owned_keys_, kUnknown) {}

std::string KvWorkload::ValueOf(int64_t key, uint32_t version) const {
  std::string value = absl::StrCat("k", key, "v", version, "-");
  const size_t tag = value.size();
  value.resize(std::max<size_t>(value_bytes_, tag));
  for (size_t i = tag; i < value.size(); ++i) value[i] = "abcdefghijklmnopqrstuvwxyz"[i % 26];
  value.resize(value_bytes_);
  return value;
}

int64_t KvWorkload::PickKey() {
  return std::uniform_int_distribution<int64_t>(0, owned_keys_ - 1)(random_);
}

KvWorkload::Op KvWorkload::PickOp() {
  const int roll = std::uniform_int_distribution<int>(0, mix_.set + mix_.get + mix_.del - 1)(random_);
  if (roll < mix_.set) return Op::kSet;
  if (roll < mix_.set + mix_.get) return Op::kGet;
  return Op::kDel;
}

void KvWorkload::Next(protocol::Buffer* out) {
  const int64_t slot = PickKey();
  const int64_t key = first_key_ + slot * stride_;
  Pending pending{PickOp(), slot, 0, ""};
  switch (pending.op) {
    case Op::kSet:
      pending.version = version_[slot] = ++sets_;
      pending.frame = absl::StrCat("SET ", KeyName(key), " ", ValueOf(key, pending.version));
      break;
    case Op::kGet:
      pending.version = version_[slot];
      pending.frame = absl::StrCat("GET ", KeyName(key));
      break;
    case Op::kDel:
      pending.version = version_[slot] = kAbsent;
      pending.frame = absl::StrCat("DEL ", KeyName(key));
      break;
  }
  AppendRequest(protocol_, pending.frame, out);
  pending_.push_back(std::move(pending));
}

bool KvWorkload::Check(const protocol::Frame& reply) {
  if (pending_.empty()) return false;
  const Pending pending = std::move(pending_.front());
  pending_.pop_front();
  if (reply.kind == protocol::FrameKind::kError) {
    // Counted as an error by the caller; a write it answered may or may not have happened.
    if (pending.op != Op::kGet) version_[pending.slot] = kUnknown;
    return true;
  }
  if (pending.op != Op::kGet) return reply.payload == "+";
  if (pending.version == kUnknown) {
    return reply.payload == "-NOT_FOUND" || absl::StartsWith(reply.payload, "+");
  }
  if (pending.version == kAbsent) return reply.payload == "-NOT_FOUND";
  const int64_t key = first_key_ + pending.slot * stride_;
  return reply.payload.size() == 1 + static_cast<size_t>(value_bytes_) &&
         reply.payload[0] == '+' && reply.payload.substr(1) == ValueOf(key, pending.version);
}

void KvWorkload::Resend(protocol::Buffer* out) const {
  for (const Pending& pending : pending_) AppendRequest(protocol_, pending.frame, out);
}

void KvWorkload::Abandon() {
  for (const Pending& pending : pending_) {
    if (pending.op != Op::kGet) version_[pending.slot] = kUnknown;
  }
  pending_.clear();
}

}  // namespace client
