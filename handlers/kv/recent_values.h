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
// What a GET read from the store (NOT_FOUND included) is kept here as a cached value until a
// write of the key replaces it, or `cache_bytes` is exceeded: then the oldest cached keys are
// dropped, first in first out. A GET answered here costs a hash lookup instead of RocksDB's
// read path (a memtable and its locks, a superversion, perf counters). A committed write is
// not kept (the next GET of its key reads the store, and caches that): in a flood of SETs
// this stays the size of the commit queue, where every key it held would cost each SET a
// lookup in a table far larger than the CPU's caches.
//
//   RecentValues values(/*cache_bytes=*/64 << 20);
//   uint64_t version = values.Put("a", std::make_shared<const std::string>("1"));  // DEL: null
//   values.Read("a", [](const std::string* value) { /* "1"; null: deleted */ }, &ticket);
//   values.Done("a", version);                   // committed, or withdrawn: gone from here
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

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace handlers {

class RecentValues {
 public:
  // `cache_bytes`: what the committed values may hold (0: none are kept). Pending writes are
  // bounded elsewhere (the commit queue's memory charge) and never dropped.
  explicit RecentValues(int64_t cache_bytes) : shard_bytes_(cache_bytes / kShards) {}

  // Records a write of `key` (`value`, shared with the commit's queue; null: a DEL), replacing
  // what is here for the key. Returns its version, for Done().
  uint64_t Put(absl::string_view key, std::shared_ptr<const std::string> value);
  // The write `version` of `key` was committed, or withdrawn: forgotten (a GET reads the store),
  // unless a later write of the key is pending (which stays until its own Done).
  void Done(absl::string_view key, uint64_t version);

  // If `key` is here, calls `read` with its value (null: deleted, or not in the store), under
  // the shard's lock, and returns true. Otherwise returns false and sets `ticket`, for Fill().
  bool Read(absl::string_view key, absl::FunctionRef<void(const std::string* value)> read,
            uint64_t* ticket) const;
  // Caches what the store answered for `key` (nullopt: not there) after a Read() that gave
  // `ticket`, unless a write of a key of its shard was handled since (the value read may then
  // be older than that write).
  void Fill(absl::string_view key, uint64_t ticket, const std::optional<std::string>& value);

  // Keys here, pending or cached (tests).
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Entry {
    uint64_t version = 0;  // of its writes: 0 for a value read from the store
    bool pending = false;
    std::shared_ptr<const std::string> value;  // null: deleted, or not in the store
  };
  struct Shard {
    mutable std::mutex mu;
    // All guarded by mu.
    absl::flat_hash_map<std::string, Entry> entries;
    std::deque<std::string> order;  // keys cached, as they came, to drop the oldest first
    int64_t bytes = 0;              // of the cached entries (not the pending) and of `order`
    uint64_t writes = 0;            // Puts so far: a Fill's ticket
  };
  Shard& ShardOf(absl::string_view key);
  const Shard& ShardOf(absl::string_view key) const {
    return const_cast<RecentValues*>(this)->ShardOf(key);
  }
  // What a cached entry counts in its shard's bytes.
  static int64_t BytesOf(absl::string_view key, const Entry& entry);
  // Drops the oldest cached keys until the shard is within its bytes.
  void Trim(Shard& shard);

  const int64_t shard_bytes_;
  std::array<Shard, kShards> shards_;
};

}  // namespace handlers

#endif  // HANDLERS_KV_RECENT_VALUES_H_
