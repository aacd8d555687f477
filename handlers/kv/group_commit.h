// GroupCommit: the kv handler's writes, many connections' at a time, in one RocksDB write.
//
// RocksDB groups concurrent writes, but only as many as there are threads writing at once, and
// a write on a worker's loop could stall it. So the kv handler answers a write later: it
// queues the command here, and this thread takes everything queued since its last commit into
// one atomic batch (one write-ahead-log write, and with --kv_sync one fsync), then answers
// each command. Redis's `appendfsync always` likewise writes what one event-loop turn produced
// with one fsync. A connection with commands queued here queues its GETs here too, so it reads
// its own writes in order.
//
//   GroupCommit commits(store, nullptr, nullptr);
//   commits.Start();
//   commits.Add({KvStore::Command::Kind::kSet, "key", "value", {}}, reply.Defer(), queued);
//   commits.Stop();  // commits what is queued, then joins
//
// Thread-safe.
#ifndef HANDLERS_KV_GROUP_COMMIT_H_
#define HANDLERS_KV_GROUP_COMMIT_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "handlers/handler.h"
#include "handlers/kv/kv_store.h"

namespace handlers {

class GroupCommit {
 public:
  // `store` and the counters outlive this; the counters (may be null) count commits and the
  // commands they carried.
  GroupCommit(KvStore* store, HandlerCounter* commits, HandlerCounter* commands)
      : store_(store), commits_(commits), commands_(commands) {}
  ~GroupCommit() { Stop(); }
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  void Start();
  // Queues `command`; `done` is answered once the batch holding it is committed. `queued` counts
  // the connection's commands here: one more now, one less once this one is committed.
  void Add(KvStore::Command command, Completion done, std::shared_ptr<std::atomic<int>> queued);
  // Commits what is queued, then stops the thread. Later Adds are answered UNAVAILABLE.
  void Stop();

 private:
  struct Entry {
    KvStore::Command command;
    Completion done;
    std::shared_ptr<std::atomic<int>> queued;
  };
  void Run();
  void CommitAndAnswer(std::vector<Entry>& entries);

  KvStore* const store_;
  HandlerCounter* const commits_;
  HandlerCounter* const commands_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Entry> queue_;  // guarded by mu_
  bool stopping_ = false;     // guarded by mu_
};

}  // namespace handlers

#endif  // HANDLERS_KV_GROUP_COMMIT_H_
