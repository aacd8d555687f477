// KvHandler: the `kv` commands (docs/kv.md) over a KvStore.
//
//   SET <key> <value>   ->  "+"            the value is the rest of the payload after the key's
//   GET <key>           ->  "+<value>"     space, binary-safe, possibly empty
//                       or  "-NOT_FOUND"
//   DEL <key>           ->  "+"            (deleting a missing key succeeds)
//
// A key is 1..250 bytes with no space. A malformed command gets the server's error reply
// (INVALID_ARGUMENT), a storage failure an INTERNAL error reply: a write is acknowledged with "+"
// only once it is stored.
//
// Registered as blocking (RocksDB may wait for the disk), with a fast path on the loop:
//   - HandleWithoutBlocking (the worker's loop): a GET the memtable or block cache answers, and
//     with --kv_sync=false a write RocksDB takes without a stall, are answered at once; with
//     --kv_sync a write is queued for the next group commit (group_commit.h) and answered
//     after it, and so is any command of a connection that has writes queued there.
//   - Handle (a handler thread): everything the fast path declined (a GET that reads a file, a
//     stalled write), waiting for the disk as needed.
// Thread-safe; one instance per connection.
#ifndef HANDLERS_KV_KV_H_
#define HANDLERS_KV_KV_H_

#include <atomic>
#include <memory>

#include "handlers/handler.h"
#include "handlers/kv/group_commit.h"
#include "handlers/kv/kv_store.h"

namespace handlers {

inline constexpr size_t kMaxKeyBytes = 250;

class KvHandler : public Handler {
 public:
  // `store` and `commits` outlive the handler. `commits` null: writes go straight to `store`
  // (without --kv_sync).
  KvHandler(KvStore* store, GroupCommit* commits) : store_(store), commits_(commits) {}
  absl::Status Handle(absl::string_view request, Reply& reply) override;
  absl::StatusOr<bool> HandleWithoutBlocking(absl::string_view request, Reply& reply) override;

 private:
  KvStore* const store_;
  GroupCommit* const commits_;
  // This connection's commands waiting in `commits_`.
  const std::shared_ptr<std::atomic<int>> queued_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace handlers

#endif  // HANDLERS_KV_KV_H_
