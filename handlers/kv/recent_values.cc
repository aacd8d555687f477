#include "handlers/kv/recent_values.h"

#include <utility>

#include "absl/hash/hash.h"

namespace handlers {
namespace {

// What an entry and a key in the order cost beyond their bytes (the map's slot, the string and
// shared_ptr headers, the deque's slot), roughly.
constexpr int64_t kEntryOverhead = 96;
constexpr int64_t kOrderOverhead = 32;

}  // namespace

RecentValues::Shard& RecentValues::ShardOf(absl::string_view key) {
  // The high bits: the map inside the shard uses the low ones of its own hash of the key.
  return shards_[(absl::Hash<absl::string_view>()(key) >> 32) % kShards];
}

int64_t RecentValues::BytesOf(absl::string_view key, const Entry& entry) {
  return static_cast<int64_t>(key.size()) + kEntryOverhead +
         (entry.value == nullptr ? 0 : static_cast<int64_t>(entry.value->size()));
}

void RecentValues::Trim(Shard& shard) {
  while (shard.bytes > shard_bytes_ && !shard.order.empty()) {
    const std::string& key = shard.order.front();
    auto it = shard.entries.find(key);
    // A pending key's entry goes at its Done; a key cached again later has a newer place too.
    if (it != shard.entries.end() && !it->second.pending) {
      shard.bytes -= BytesOf(key, it->second);
      shard.entries.erase(it);
    }
    shard.bytes -= static_cast<int64_t>(key.size()) + kOrderOverhead;
    shard.order.pop_front();
  }
}

uint64_t RecentValues::Put(absl::string_view key, std::shared_ptr<const std::string> value) {
  Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  ++shard.writes;
  auto [it, inserted] = shard.entries.try_emplace(key);
  Entry& entry = it->second;
  // A cached value no longer counts: pending writes are bounded by the commit queue's charge.
  if (!inserted && !entry.pending) shard.bytes -= BytesOf(key, entry);
  ++entry.version;
  entry.pending = true;
  entry.value = std::move(value);
  return entry.version;
}

void RecentValues::Done(absl::string_view key, uint64_t version) {
  Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end() || it->second.version != version) return;  // a later write
  shard.entries.erase(it);  // pending: not counted in the shard's bytes
}

bool RecentValues::Read(absl::string_view key,
                        absl::FunctionRef<void(const std::string* value)> read,
                        uint64_t* ticket) const {
  const Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) {
    *ticket = shard.writes;
    return false;
  }
  read(it->second.value.get());
  return true;
}

void RecentValues::Fill(absl::string_view key, uint64_t ticket,
                        const std::optional<std::string>& value) {
  if (shard_bytes_ == 0) return;
  Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.writes != ticket) return;
  auto [it, inserted] = shard.entries.try_emplace(key);
  if (!inserted) return;
  if (value.has_value()) it->second.value = std::make_shared<const std::string>(*value);
  shard.bytes += BytesOf(key, it->second) + static_cast<int64_t>(key.size()) + kOrderOverhead;
  shard.order.emplace_back(key);
  Trim(shard);
}

size_t RecentValues::size() const {
  size_t size = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    size += shard.entries.size();
  }
  return size;
}

}  // namespace handlers
