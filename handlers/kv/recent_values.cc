#include "handlers/kv/recent_values.h"

#include <cstring>
#include <new>
#include <utility>

#include "absl/hash/hash.h"

namespace handlers {
namespace {

// What a cached item and its key in the order cost beyond their bytes (the table's slot, the
// allocator's header, the deque's slot and string), roughly.
constexpr int64_t kItemOverhead = 32;
constexpr int64_t kOrderOverhead = 48;

}  // namespace

size_t RecentValues::ItemHash::operator()(absl::string_view key) const {
  return absl::Hash<absl::string_view>()(key);
}

RecentValues::Shard& RecentValues::ShardOf(absl::string_view key) {
  // The high bits: the table inside the shard uses the low ones of the same hash.
  return shards_[(ItemHash()(key) >> 48) % kShards];
}

RecentValues::ItemPtr RecentValues::MakeItem(Shard& shard, absl::string_view key,
                                             std::optional<absl::string_view> value) {
  const size_t value_size = value.has_value() ? value->size() : 0;
  // Rounded up, so that a later value of about the same size is written in place.
  const size_t capacity = (key.size() + value_size + 15) & ~size_t{15};
  ItemPtr item;
  // A spare at most twice the size: a small value does not pin a large block.
  if (!shard.spare.empty() && shard.spare.back()->capacity >= capacity &&
      shard.spare.back()->capacity <= 2 * capacity) {
    item = std::move(shard.spare.back());
    shard.spare.pop_back();
  } else {
    item.reset(new (::operator new(sizeof(Item) + capacity)) Item{});
    item->capacity = static_cast<uint32_t>(capacity);
  }
  item->version = 0;
  item->key_size = static_cast<uint32_t>(key.size());
  item->value_size = static_cast<uint32_t>(value_size);
  item->pending = false;
  item->deleted = !value.has_value();
  item->cached = false;
  std::memcpy(item->data(), key.data(), key.size());
  if (value_size > 0) std::memcpy(item->data() + key.size(), value->data(), value_size);
  return item;
}

void RecentValues::Remove(Shard& shard, Items::iterator it) {
  Items::node_type node = shard.items.extract(it);
  if (shard.spare.size() < kSpareItems && node.value()->capacity <= kSpareCapacity) {
    shard.spare.push_back(std::move(node.value()));
  }
}

int64_t RecentValues::BytesOf(const Item& item) {
  return static_cast<int64_t>(sizeof(Item) + item.capacity) + kItemOverhead;
}

void RecentValues::Trim(Shard& shard) {
  while (shard.bytes > shard_bytes_ && !shard.order.empty()) {
    const std::string& key = shard.order.front();
    auto it = shard.items.find(key);
    // A pending key's item goes at its Done (no longer cached: its place here is spent); a key
    // cached again later has a newer place too.
    if (it != shard.items.end() && (*it)->pending) {
      (*it)->cached = false;
    } else if (it != shard.items.end()) {
      shard.bytes -= BytesOf(**it);
      Remove(shard, it);
    }
    shard.bytes -= static_cast<int64_t>(key.size()) + kOrderOverhead;
    shard.order.pop_front();
  }
}

uint64_t RecentValues::Put(absl::string_view key, std::optional<absl::string_view> value) {
  Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  ++shard.writes;
  uint64_t version = 1;
  bool cached = false;
  auto it = shard.items.find(key);
  if (it != shard.items.end()) {
    Item& item = **it;
    // A cached value no longer counts: pending writes are bounded by the commit queue's charge.
    if (!item.pending) shard.bytes -= BytesOf(item);
    cached = !item.pending || item.cached;
    version = item.version + 1;
    const size_t value_size = value.has_value() ? value->size() : 0;
    if (key.size() + value_size <= item.capacity) {  // in place: readers hold the lock
      item.value_size = static_cast<uint32_t>(value_size);
      item.deleted = !value.has_value();
      if (value_size > 0) std::memcpy(item.data() + key.size(), value->data(), value_size);
      item.version = version;
      item.pending = true;
      item.cached = cached;
      return version;
    }
    Remove(shard, it);
  }
  ItemPtr item = MakeItem(shard, key, value);
  item->version = version;
  item->pending = true;
  item->cached = cached;
  shard.items.insert(std::move(item));
  return version;
}

void RecentValues::Finish(absl::string_view key, uint64_t version, bool stored) {
  Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.items.find(key);
  if (it == shard.items.end() || (*it)->version != version) return;  // a later write
  Item& item = **it;
  if (!stored || !item.cached || shard_bytes_ == 0) {
    Remove(shard, it);  // pending: not counted in the shard's bytes
    return;
  }
  // The store has this value now, and the key keeps its place in the order.
  item.pending = false;
  item.cached = false;
  shard.bytes += BytesOf(item);
  Trim(shard);
}

bool RecentValues::Read(absl::string_view key,
                        absl::FunctionRef<void(std::optional<absl::string_view> value)> read,
                        uint64_t* ticket) const {
  const Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.items.find(key);
  if (it == shard.items.end()) {
    *ticket = shard.writes;
    return false;
  }
  read((*it)->value());
  return true;
}

void RecentValues::Fill(absl::string_view key, uint64_t ticket,
                        const std::optional<std::string>& value) {
  if (shard_bytes_ == 0) return;
  Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.writes != ticket || shard.items.contains(key)) return;
  ItemPtr item = MakeItem(shard, key, value.has_value() ? std::optional<absl::string_view>(*value)
                                                 : std::nullopt);
  shard.bytes += BytesOf(*item) + static_cast<int64_t>(key.size()) + kOrderOverhead;
  shard.items.insert(std::move(item));
  shard.order.emplace_back(key);
  Trim(shard);
}

size_t RecentValues::size() const {
  return SumOverShards([](const Shard& shard) { return shard.items.size(); });
}

size_t RecentValues::spare_items() const {
  return SumOverShards([](const Shard& shard) { return shard.spare.size(); });
}

}  // namespace handlers
