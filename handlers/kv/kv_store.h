// KvStore: the durable map behind the `kv` handler, on RocksDB.
//
//   absl::StatusOr<std::unique_ptr<KvStore>> store = KvStore::Open("/var/lib/kv", KvStore::Options());
//   (*store)->Set("a", "1");
//   absl::StatusOr<std::optional<std::string>> value = (*store)->Get("a");
//
// With `sync`, a Set or Del returns only once the write is in RocksDB's write-ahead log on disk
// (fsync): an acknowledged write survives kill -9 and power loss of the process. RocksDB's LOCK
// file keeps a second process from opening the same directory.
//
// A write the disk has no room for fails RESOURCE_EXHAUSTED, naming the path and the cause;
// RocksDB then refuses writes (reads go on) until its recovery finds space again (it looks
// every 5 s), with no restart. RocksDB's own log goes to the server's (rocks_events.h), never
// to a file on the database's disk.
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

#include "handlers/handler.h"

namespace rocksdb {
class DB;
class Statistics;
class Status;
}  // namespace rocksdb

namespace handlers {

class RocksEvents;

class KvStore {
 public:
  struct Options {
    bool sync = true;  // fsync each write (each commit) before it returns
    // What RocksDB holds in memory (docs/kv.md, "Memory"): each of its two memtables (the one
    // filling, the one being flushed) and the block cache.
    int64_t memtable_bytes = int64_t{64} << 20;
    int64_t block_cache_bytes = int64_t{64} << 20;
    // Tests: keep RocksDB's counters, for wal_syncs(); the server does without them.
    bool count_wal_syncs = false;
    // Set to 1 while RocksDB refuses writes after a background error (a full disk), else 0.
    HandlerGauge* writes_refused = nullptr;
  };
  // Opens (creating if needed) the database in directory `path`. FAILED_PRECONDITION naming the
  // path if it cannot be written: a parent that does not exist, a read-only file system.
  static absl::StatusOr<std::unique_ptr<KvStore>> Open(const std::string& path,
                                                       const Options& options);
  static absl::StatusOr<std::unique_ptr<KvStore>> Open(const std::string& path, bool sync,
                                                       bool count_wal_syncs = false) {
    Options options;
    options.sync = sync;
    options.count_wal_syncs = count_wal_syncs;
    return Open(path, options);
  }
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

  // One write of a batch (Commit); views of the caller's.
  struct Command {
    enum class Kind { kSet, kDel } kind;
    absl::string_view key;
    absl::string_view value;  // kSet: the value
  };
  // Applies `commands` in order as one atomic write, synced once if `sync` (the database's).
  absl::Status Commit(const std::vector<Command>& commands);
  // Writes the write-ahead log to disk (for shutdown with sync off).
  absl::Status Flush();

  // True while RocksDB refuses writes after a background error (until its recovery ends well).
  bool writes_refused() const;

  // How many times the write-ahead log was synced to disk (fsync) since Open; -1 unless
  // opened with count_wal_syncs.
  int64_t wal_syncs() const;

 private:
  KvStore(std::string path, std::unique_ptr<rocksdb::DB> db,
          std::shared_ptr<rocksdb::Statistics> statistics, std::shared_ptr<RocksEvents> events,
          bool sync);
  // OK, or the error for a caller: RESOURCE_EXHAUSTED for a full disk, INTERNAL otherwise.
  absl::Status FromRocks(const rocksdb::Status& status) const;

  const std::string path_;
  std::shared_ptr<rocksdb::Statistics> statistics_;  // RocksDB's counters, no timers
  std::shared_ptr<RocksEvents> events_;
  std::unique_ptr<rocksdb::DB> db_;
  const bool sync_;
};

}  // namespace handlers

#endif  // HANDLERS_KV_KV_STORE_H_
