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
// One path for each command, on the worker's loop (Handle):
//   - every write (SET, DEL) is queued for the next group commit (group_commit.h), which writes
//     many connections' commands with one write (and one fsync with --kv_sync), and is answered
//     after it; the worker wakes the commit thread once it has handled all it read. It takes
//     effect at once: GETs read it from the recent values (recent_values.h) until it is
//     stored. A write the memory budget has no room to queue is refused (RESOURCE_EXHAUSTED).
//   - a GET the recent values, the memtable or the block cache answer is answered at once; one
//     that must read a file is offloaded (Reply::Offload) to a handler thread, where it waits
//     for the disk. What a GET reads from the store is kept in the recent values, and stays
//     there across the key's writes.
// Thread-safe; one instance per connection.
#ifndef HANDLERS_KV_KV_H_
#define HANDLERS_KV_KV_H_

#include "handlers/handler.h"
#include "handlers/kv/group_commit.h"
#include "handlers/kv/kv_store.h"

namespace handlers {

inline constexpr size_t kMaxKeyBytes = 250;

class KvHandler : public Handler {
 public:
  // `store` and `commits` (which writes to `store`) outlive the handler. `turn_end` is its
  // worker's (HandlerContext::turn_end; may be null).
  KvHandler(KvStore* store, GroupCommit* commits, TurnEnd* turn_end = nullptr)
      : store_(store), commits_(commits), turn_end_(turn_end) {}
  absl::Status Handle(absl::string_view request, Reply& reply) override;

 private:
  KvStore* const store_;
  GroupCommit* const commits_;
  TurnEnd* const turn_end_;
};

}  // namespace handlers

#endif  // HANDLERS_KV_KV_H_
