// KvStore: the durable map behind the `kv` handler, on RocksDB.
//
//   absl::StatusOr<std::unique_ptr<KvStore>> store = KvStore::Open("/var/lib/kv", /*sync=*/true);
//   (*store)->Set("a", "1");
//   absl::StatusOr<std::optional<std::string>> value = (*store)->Get("a");
//
// With `sync`, a Set or Del returns only once the write is in RocksDB's write-ahead log on disk
// (fsync): an acknowledged write survives kill -9 and power loss of the process. RocksDB's LOCK
// file keeps a second process from opening the same directory.
//
// Thread-safe: RocksDB serves concurrent calls (and groups concurrent synced writes).
#ifndef HANDLERS_KV_KV_STORE_H_
#define HANDLERS_KV_KV_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class DB;
class Statistics;
}  // namespace rocksdb

namespace handlers {

class KvStore {
 public:
  // Opens (creating if needed) the database in directory `path`. `count_wal_syncs` (tests)
  // keeps RocksDB's counters, for wal_syncs(); the server does without them on its write path.
  static absl::StatusOr<std::unique_ptr<KvStore>> Open(const std::string& path, bool sync,
                                                       bool count_wal_syncs = false);
  ~KvStore();  // closes the database
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  absl::Status Set(absl::string_view key, absl::string_view value);
  absl::Status Del(absl::string_view key);
  // nullopt if the key is not there.
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key);

  // Get without waiting for the disk, for a caller that must not block: kWouldBlock if the
  // answer is not in the memtable or the block cache.
  enum class Outcome { kDone, kWouldBlock };
  absl::StatusOr<Outcome> GetIfCached(absl::string_view key, std::optional<std::string>* value);

  // One command of a batch (Commit), with its answer.
  struct Command {
    enum class Kind { kSet, kDel, kGet } kind;
    std::string key;
    std::string value;                // kSet: the value
    std::optional<std::string> found;  // kGet: the answer (nullopt: not there)
  };
  // Applies `commands` in order as one atomic write, synced once if `sync` (the database's):
  // a GET sees the writes before it in the batch. An error fails the whole batch.
  absl::Status Commit(std::vector<Command*>& commands);
  // Writes the write-ahead log to disk (for shutdown with sync off).
  absl::Status Flush();

  // How many times the write-ahead log was synced to disk (fsync) since Open; -1 unless
  // opened with count_wal_syncs.
  int64_t wal_syncs() const;

 private:
  KvStore(std::unique_ptr<rocksdb::DB> db, std::shared_ptr<rocksdb::Statistics> statistics,
          bool sync);

  std::shared_ptr<rocksdb::Statistics> statistics_;  // RocksDB's counters, no timers
  std::unique_ptr<rocksdb::DB> db_;
  const bool sync_;
};

}  // namespace handlers

#endif  // HANDLERS_KV_KV_STORE_H_
