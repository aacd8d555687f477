// RecentValues: kv's values in memory, in front of RocksDB: the writes queued for a commit, and,
// up to a bound in bytes, the values GETs read from the store recently.
//
// A SET or DEL takes effect when its connection's loop handles it, as Redis's do: every GET
// handled after it, on any connection, reads it here, while its own answer ("+") waits for the
// commit that stores it (and, with --kv_sync, makes it durable). So a GET never waits for a
// commit, nor crosses to the commit thread, even behind its own connection's writes. A write
// whose commit fails (a full disk) is withdrawn before it is answered with the error: a GET
// after that reads what the store has (docs/kv.md).
//
// What a GET read from the store (NOT_FOUND included) is kept here as a cached value, and stays
// cached across the writes of its key (with the value written, once committed), until
// `cache_bytes` is exceeded: then the oldest cached keys are dropped, first in first out. A GET
// answered here costs a hash lookup instead of RocksDB's read path (a memtable and its locks, a
// superversion, perf counters). A committed write of a key no GET read is not kept (the next
// GET of it reads the store, and caches that): in a flood of SETs this stays the size of the
// commit queue, where every key it held would cost each SET a lookup in a table far larger
// than the CPU's caches.
//
//   RecentValues values(/*cache_bytes=*/64 << 20);
//   uint64_t version = values.Put("a", "1");      // DEL: Put("a", std::nullopt)
//   values.Read("a", [](std::optional<absl::string_view> value) { /* "1" */ }, &ticket);
//   values.Done("a", version);                   // committed: gone, or cached if "a" was
//   // values.Withdraw("a", version);            // or its commit failed: gone
//   if (!values.Read("b", ..., &ticket)) values.Fill("b", ticket, value_read_from_the_store);
//
// Put and Done of one key must come in the order its writes are committed (GroupCommit makes
// them so). Thread-safe: the keys are spread over independently locked shards.
#ifndef HANDLERS_KV_RECENT_VALUES_H_
#define HANDLERS_KV_RECENT_VALUES_H_

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace handlers {

class RecentValues {
 public:
  // `cache_bytes`: what the values GETs read may hold (0: none are kept). Pending writes are
  // bounded elsewhere (the commit queue's memory charge) and never dropped.
  explicit RecentValues(int64_t cache_bytes) : shard_bytes_(cache_bytes / kShards) {}

  // Records a write of `key` (`value`; nullopt: a DEL), replacing what is here for the key.
  // Returns its version, for Done().
  uint64_t Put(absl::string_view key, std::optional<absl::string_view> value);
  // The write `version` of `key` was committed: it stays as the key's cached value if the key
  // was cached when written, and is forgotten otherwise (a GET reads the store). A later write
  // of the key still pending stays until its own Done.
  void Done(absl::string_view key, uint64_t version) { Finish(key, version, /*stored=*/true); }
  // The write `version` of `key` was not stored (its commit failed): forgotten, cached or not.
  void Withdraw(absl::string_view key, uint64_t version) {
    Finish(key, version, /*stored=*/false);
  }

  // If `key` is here, calls `read` with its value (nullopt: deleted, or not in the store), under
  // the shard's lock, and returns true. Otherwise returns false and sets `ticket`, for Fill().
  bool Read(absl::string_view key,
            absl::FunctionRef<void(std::optional<absl::string_view> value)> read,
            uint64_t* ticket) const;
  // Caches what the store answered for `key` (nullopt: not there) after a Read() that gave
  // `ticket`, unless a write of a key of its shard was handled since (the value read may then
  // be older than that write).
  void Fill(absl::string_view key, uint64_t ticket, const std::optional<std::string>& value);

  // Keys here, pending or cached (tests).
  size_t size() const;
  // Blocks of items done with, kept for the next writes (tests).
  size_t spare_items() const;

 private:
  static constexpr size_t kShards = 16;
  // A key and its value in one block (the header, then the key's bytes, then the value's), so
  // that a lookup touches the table's slot and this, and nothing else: on this machine each
  // cache line missed costs more than the rest of a GET's lookup.
  struct Item {
    uint64_t version;  // of its writes: 0 for a value read from the store
    uint32_t key_size;
    uint32_t value_size;
    uint32_t capacity;  // bytes after the header
    bool pending;
    bool deleted;  // or not in the store
    bool cached;   // pending: a GET's value was here when it was written, so it stays once done
    char* data() { return reinterpret_cast<char*>(this + 1); }
    const char* data() const { return reinterpret_cast<const char*>(this + 1); }
    absl::string_view key() const { return absl::string_view(data(), key_size); }
    std::optional<absl::string_view> value() const {
      if (deleted) return std::nullopt;
      return absl::string_view(data() + key_size, value_size);
    }
  };
  struct FreeItem {
    void operator()(Item* item) const { ::operator delete(item); }
  };
  using ItemPtr = std::unique_ptr<Item, FreeItem>;
  struct ItemHash {
    using is_transparent = void;
    size_t operator()(absl::string_view key) const;
    size_t operator()(const ItemPtr& item) const { return (*this)(item->key()); }
  };
  struct ItemEq {
    using is_transparent = void;
    static absl::string_view KeyOf(absl::string_view key) { return key; }
    static absl::string_view KeyOf(const ItemPtr& item) { return item->key(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const { return KeyOf(a) == KeyOf(b); }
  };
  using Items = absl::flat_hash_set<ItemPtr, ItemHash, ItemEq>;
  // Items a Done freed, kept for the next Puts of the shard: in a flood of SETs each write's
  // item would otherwise be allocated on a worker's thread and freed on the commit thread,
  // glibc's slow path. At most kSpareItems a shard, of at most kSpareCapacity bytes each (under
  // 280 KiB in all, headers included).
  static constexpr size_t kSpareItems = 32;
  static constexpr uint32_t kSpareCapacity = 512;
  struct Shard {
    Shard() { spare.reserve(kSpareItems); }
    mutable std::mutex mu;
    // All guarded by mu.
    Items items;
    std::vector<ItemPtr> spare;
    std::deque<std::string> order;  // keys cached, as they came, to drop the oldest first
    int64_t bytes = 0;              // of the cached items (not the pending) and of `order`
    uint64_t writes = 0;            // Puts so far: a Fill's ticket
  };
  Shard& ShardOf(absl::string_view key);
  const Shard& ShardOf(absl::string_view key) const {
    return const_cast<RecentValues*>(this)->ShardOf(key);
  }
  // A new item for `key` and `value`: a spare one of `shard`'s if one fits, else allocated.
  static ItemPtr MakeItem(Shard& shard, absl::string_view key,
                          std::optional<absl::string_view> value);
  // Removes the item at `it` from the shard (not its place in the order), keeping it as a spare.
  static void Remove(Shard& shard, Items::iterator it);
  // What a cached item counts in its shard's bytes.
  static int64_t BytesOf(const Item& item);
  // Drops the oldest cached keys until the shard is within its bytes.
  void Trim(Shard& shard);
  void Finish(absl::string_view key, uint64_t version, bool stored);
  // `count` of each shard, under its lock, summed (tests).
  template <typename Count>
  size_t SumOverShards(Count count) const {
    size_t sum = 0;
    for (const Shard& shard : shards_) {
      std::lock_guard<std::mutex> lock(shard.mu);
      sum += count(shard);
    }
    return sum;
  }

  const int64_t shard_bytes_;
  std::array<Shard, kShards> shards_;
};

}  // namespace handlers

#endif  // HANDLERS_KV_RECENT_VALUES_H_
