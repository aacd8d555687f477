// PendingWrites: the kv writes queued for a commit, readable before they are committed.
//
// A SET or DEL takes effect when its connection's loop handles it, as Redis's do: every GET
// handled after it, on any connection, reads it, while its own answer ("+") waits for the
// commit that stores it (and, with --kv_sync, makes it durable). So a GET never waits for a
// commit, nor crosses to the commit thread, even behind its own connection's writes: it looks
// here, then in the store. A write whose commit fails (a full disk) is withdrawn before it is
// answered with the error: a GET after that reads what the store has (docs/kv.md).
//
//   PendingWrites pending;
//   uint64_t version = pending.Put("a", std::make_shared<const std::string>("1"));  // DEL: null
//   pending.Read("a", [](const std::string* value) { /* "1"; null: deleted */ });  // true
//   pending.Done("a", version);                        // committed (or withdrawn): gone from here
//
// Put and Done of one key must come in the order its writes are committed (GroupCommit makes
// them so). Thread-safe: the keys are spread over independently locked shards.
#ifndef HANDLERS_KV_PENDING_WRITES_H_
#define HANDLERS_KV_PENDING_WRITES_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace handlers {

class PendingWrites {
 public:
  // Records a write of `key` (`value`, shared with the commit's queue; null: a DEL), replacing
  // any pending one of the key. Returns its version, for Done().
  uint64_t Put(absl::string_view key, std::shared_ptr<const std::string> value);
  // If a write of `key` is pending, calls `read` with its value (null for a DEL), under the
  // shard's lock, and returns true; false if none is.
  bool Read(absl::string_view key, absl::FunctionRef<void(const std::string* value)> read) const;
  // The write `version` of `key` was committed, or withdrawn: forgotten unless a later write of
  // the key is pending (which then stays until its own Done).
  void Done(absl::string_view key, uint64_t version);

  int64_t size() const { return size_.load(); }

 private:
  struct Write {
    uint64_t version = 0;
    std::shared_ptr<const std::string> value;  // null: deleted
  };
  struct Shard {
    mutable std::mutex mu;  // the loops' GETs and Puts, the commit thread's Done
    absl::flat_hash_map<std::string, Write> writes;  // guarded by mu
  };
  Shard& ShardOf(absl::string_view key);
  const Shard& ShardOf(absl::string_view key) const {
    return const_cast<PendingWrites*>(this)->ShardOf(key);
  }

  std::array<Shard, 16> shards_;
  // Keys pending. Sequentially consistent, like the shards' locks: a GET that finds it 0 skips
  // the shards, and must still see a write handled before it on another thread.
  std::atomic<int64_t> size_{0};
};

}  // namespace handlers

#endif  // HANDLERS_KV_PENDING_WRITES_H_
