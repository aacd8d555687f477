#include "handlers/kv/pending_writes.h"

#include <utility>

#include "absl/hash/hash.h"

namespace handlers {

PendingWrites::Shard& PendingWrites::ShardOf(absl::string_view key) {
  // The high bits: the map inside the shard uses the low ones of its own hash of the key.
  return shards_[(absl::Hash<absl::string_view>()(key) >> 32) % shards_.size()];
}

uint64_t PendingWrites::Put(absl::string_view key, std::shared_ptr<const std::string> value) {
  Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto [it, inserted] = shard.writes.try_emplace(key);
  if (inserted) size_.fetch_add(1);
  Write& write = it->second;
  ++write.version;
  write.value = std::move(value);
  return write.version;
}

bool PendingWrites::Read(absl::string_view key,
                         absl::FunctionRef<void(const std::string* value)> read) const {
  if (size_.load() == 0) return false;
  const Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.writes.find(key);
  if (it == shard.writes.end()) return false;
  read(it->second.value.get());
  return true;
}

void PendingWrites::Done(absl::string_view key, uint64_t version) {
  Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.writes.find(key);
  if (it == shard.writes.end() || it->second.version != version) return;
  shard.writes.erase(it);
  size_.fetch_sub(1);
}

}  // namespace handlers
