// GroupCommit: the kv handler's writes, many connections' at a time, in one RocksDB write.
//
// RocksDB groups concurrent writes, but only as many as there are threads writing at once, and
// a write on a worker's loop could stall it. So the kv handler answers a write later: it
// queues the command here, and this thread takes everything queued since its last commit into
// one atomic batch (one write-ahead-log write, and with --kv_sync one fsync), then answers
// each command. A worker wakes it once a turn (handlers/turn_end.h), when it has handled all it
// read, not at its first write: a commit then takes the turn's writes together, as Redis's
// `appendfsync always` writes what one event-loop turn produced with one fsync. A queued write takes effect at once, in values() (recent_values.h), where
// every GET looks before the store: GETs are never queued here.
//
// What is queued is charged to the server's memory budget (--max_buffer_memory) until it is
// answered or dropped; a command the budget has no room for is refused RESOURCE_EXHAUSTED, not
// queued (docs/kv.md, "Memory").
//
//   GroupCommit commits(store, nullptr, nullptr, budget);
//   commits.Start();
//   absl::Status queued = commits.Add(KvStore::Command::Kind::kSet, "key", "value", reply,
//                                     context.turn_end);
//   commits.Stop();  // commits what is queued, then joins
//
// Thread-safe.
#ifndef HANDLERS_KV_GROUP_COMMIT_H_
#define HANDLERS_KV_GROUP_COMMIT_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "handlers/handler.h"
#include "handlers/kv/byte_blocks.h"
#include "handlers/kv/kv_store.h"
#include "handlers/kv/recent_values.h"
#include "handlers/turn_end.h"

namespace handlers {

class GroupCommit : public TurnEndHook {
 public:
  // `store`, the counters and `memory` outlive this; the counters (may be null) count commits,
  // the commands they carried, and the writes (SET, DEL) a failed commit answered with an
  // error. `memory` (may be null: unbounded) is charged for what is queued. `cache_bytes`
  // bounds what values() keeps of what GETs read from the store.
  GroupCommit(KvStore* store, HandlerCounter* commits, HandlerCounter* commands,
              MemoryAccount* memory = nullptr, HandlerCounter* write_errors = nullptr,
              int64_t cache_bytes = 0)
      : store_(store),
        commits_(commits),
        commands_(commands),
        write_errors_(write_errors),
        memory_(memory),
        values_(cache_bytes) {}
  ~GroupCommit() { Stop(); }
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Starts the commit thread; returns once it waits for writes.
  void Start();
  // Copies the write (`value`: kSet only) into the queue and into values(), and defers
  // `reply`, which is answered once the batch holding it is committed. RESOURCE_EXHAUSTED, with
  // nothing copied, queued or deferred, if the memory budget has no room for the copies. The
  // commit thread is woken at the end of the turn of `turn_end` (the handler's worker's), or
  // at once if it is null.
  absl::Status Add(KvStore::Command::Kind kind, absl::string_view key, absl::string_view value,
                   Reply& reply, TurnEnd* turn_end = nullptr);
  // A worker's turn ended: commits what it queued (if the thread is not committing already).
  void AtTurnEnd() override { wake_.notify_one(); }
  // Commits what is queued, then stops the thread. Later Adds are answered UNAVAILABLE.
  void Stop();

  // The writes queued and not yet answered, and recent values: where a GET looks first.
  RecentValues& values() { return values_; }

  // Tests: runs on the commit thread before each commit, with the number of commands in it; it
  // may block, holding that commit (and queueing what arrives meanwhile for the next). Set
  // before Start().
  void set_before_commit_for_testing(std::function<void(size_t commands)> hook) {
    before_commit_ = std::move(hook);
  }

 private:
  // Bytes charged to the budget, given back when this is destroyed (before its command is
  // answered, or with an entry dropped unanswered).
  class Charge {
   public:
    Charge(MemoryAccount* memory, int64_t bytes) : memory_(memory), bytes_(bytes) {}
    Charge(Charge&& other) noexcept
        : memory_(std::exchange(other.memory_, nullptr)), bytes_(other.bytes_) {}
    Charge& operator=(Charge&& other) noexcept {
      std::swap(memory_, other.memory_);
      std::swap(bytes_, other.bytes_);
      return *this;
    }
    ~Charge() {
      if (memory_ != nullptr) memory_->Release(bytes_);
    }

   private:
    MemoryAccount* memory_;  // null: nothing to give back
    int64_t bytes_;
  };
  // A queued command. Its key and value are copied, one after the other, into the queue's
  // blocks (queued_bytes_), not into strings of their own: a write then costs no allocation
  // here, where each would be freed on another thread than the one that made it (glibc's slow
  // path).
  struct Entry {
    Charge charge;
    KvStore::Command::Kind kind;
    uint32_t key_size;
    uint32_t value_size;  // kSet only
    const char* data;     // its key, then its value, in the queue's blocks
    Completion done;
    uint64_t version;  // in values_
    absl::string_view key() const { return absl::string_view(data, key_size); }
    absl::string_view value() const { return absl::string_view(data + key_size, value_size); }
  };
  void Run();
  void CommitAndAnswer(std::vector<Entry>& entries, ByteBlocks& bytes,
                       std::vector<KvStore::Command>& commands);

  KvStore* const store_;
  HandlerCounter* const commits_;
  HandlerCounter* const commands_;
  HandlerCounter* const write_errors_;
  MemoryAccount* const memory_;
  std::function<void(size_t)> before_commit_;
  RecentValues values_;
  std::thread thread_;
  std::mutex mu_;  // the loops' Adds and this thread's take of the queue
  std::condition_variable wake_;
  std::condition_variable started_;
  bool waiting_ = false;      // guarded by mu_: the thread has started
  std::vector<Entry> queue_;  // guarded by mu_
  ByteBlocks queued_bytes_;   // guarded by mu_: the queued keys and values (Entry::data)
  bool stopping_ = false;     // guarded by mu_
};

}  // namespace handlers

#endif  // HANDLERS_KV_GROUP_COMMIT_H_
