// KvHandler: the `kv` commands (docs/kv.md) over a KvStore.
//
//   SET <key> <value>   ->  "+"            the value is the rest of the payload after the key's
//   GET <key>           ->  "+<value>"     space, binary-safe, possibly empty
//                       or  "-NOT_FOUND"
//   DEL <key>           ->  "+"            (deleting a missing key succeeds)
//
// A key is 1..250 bytes with no space. A malformed command gets the server's error reply
// (INVALID_ARGUMENT), a storage failure an INTERNAL error reply: a write is acknowledged with "+"
// only once it is stored. Blocking (RocksDB may wait for the disk): registered as blocking, so it
// runs on the handler threads. Thread-safe.
#ifndef HANDLERS_KV_KV_H_
#define HANDLERS_KV_KV_H_

#include "handlers/handler.h"
#include "handlers/kv/kv_store.h"

namespace handlers {

inline constexpr size_t kMaxKeyBytes = 250;

class KvHandler : public Handler {
 public:
  explicit KvHandler(KvStore* store) : store_(store) {}  // `store` outlives the handler
  absl::Status Handle(absl::string_view request, Reply& reply) override;

 private:
  KvStore* const store_;
};

}  // namespace handlers

#endif  // HANDLERS_KV_KV_H_
