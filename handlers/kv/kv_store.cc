#include "handlers/kv/kv_store.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "handlers/kv/rocks_events.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/statistics.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace handlers {
namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// OK if `path` can be a database directory: an existing, writable directory, or a name that can
// be created in one (RocksDB creates only the last level).
absl::Status CheckWritable(const std::string& path) {
  struct stat st;
  std::string dir = path;
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(path, " is not a directory"));
    }
  } else if (errno == ENOENT) {
    const size_t slash = path.find_last_of('/');
    dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create ", path, ": the directory ", dir, " does not exist"));
    }
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use ", path, ": ", std::strerror(errno)));
  }
  if (::access(dir.c_str(), W_OK) != 0) {  // EROFS even for root
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot write to ", dir, (dir == path ? "" : absl::StrCat(" to create ", path)), ": ",
        std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> KvStore::Open(const std::string& path,
                                                       const Options& kv) {
  if (absl::Status writable = CheckWritable(path); !writable.ok()) return writable;
  rocksdb::Options options;
  options.create_if_missing = true;
  // Point lookups are all kv does: bloom filters and a block cache keep a GET of a key that is
  // not in the memtable off the disk (and answerable on the loop).
  options.OptimizeForPointLookup(/*block_cache_size_mb=*/1);
  rocksdb::BlockBasedTableOptions table;
  if (auto* configured = options.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>()) {
    table = *configured;
  }
  table.block_cache = rocksdb::NewLRUCache(static_cast<size_t>(kv.block_cache_bytes));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.write_buffer_size = static_cast<size_t>(kv.memtable_bytes);
  // A memtable that is a hash of whole keys (each bucket a short sorted list), not one skip
  // list: kv never scans, and a SET into a skip list of half a million random keys spent most of
  // the commit thread's time finding its place (docs/BENCHMARKS.md, the profile). A bucket per
  // 64 bytes of memtable: an eighth of it for the bucket array.
  options.prefix_extractor.reset(rocksdb::NewNoopTransform());
  options.memtable_factory.reset(rocksdb::NewHashLinkListRepFactory(
      std::max<size_t>(1024, static_cast<size_t>(kv.memtable_bytes) / 64)));
  options.allow_concurrent_memtable_write = false;  // a hash memtable takes one writer at a time
  // A SET of a key the memtable holds overwrites its value there when the new one is no longer
  // (as Redis overwrites its hash table's), rather than adding an entry: a memtable fills, and
  // is flushed (sorted and written), only as fast as new keys arrive.
  options.inplace_update_support = true;
  // Each in-place update takes a lock picked by the key's hash. RocksDB's default of 10,000 is
  // 560 KiB of locks, so nearly every SET missed the cache on its lock (5% of the server's CPU
  // under a SET flood, docs/BENCHMARKS.md); 256 fit in 14 KiB, and one commit thread writes.
  options.inplace_update_num_locks = 256;
  options.max_write_buffer_number = 2;
  if (kv.count_wal_syncs) {  // counters only (no clock reads): what wal_syncs() reports
    options.statistics = rocksdb::CreateDBStatistics();
    options.statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  }
  // RocksDB's log to ours, not to a LOG file on the database's (possibly full) disk; its
  // background errors to writes_refused().
  auto events = std::make_shared<RocksEvents>(kv.writes_refused);
  options.info_log = events->logger();
  options.listeners.push_back(events);
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, path, &db);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", status.ToString()));
  }
  return std::unique_ptr<KvStore>(new KvStore(path, std::unique_ptr<rocksdb::DB>(db),
                                              std::move(options.statistics), std::move(events),
                                              kv.sync));
}

KvStore::KvStore(std::string path, std::unique_ptr<rocksdb::DB> db,
                 std::shared_ptr<rocksdb::Statistics> statistics,
                 std::shared_ptr<RocksEvents> events, bool sync)
    : path_(std::move(path)),
      statistics_(std::move(statistics)),
      events_(std::move(events)),
      db_(std::move(db)),
      sync_(sync) {}

absl::Status KvStore::FromRocks(const rocksdb::Status& status) const {
  if (status.ok()) return absl::OkStatus();
  if (status.IsNoSpace()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "kv: the disk of ", path_, " is full: this write cannot be made durable and was not ",
        "acknowledged (", status.ToString(), "); writes resume once space is freed"));
  }
  return absl::InternalError(absl::StrCat("storage (", path_, "): ", status.ToString()));
}

bool KvStore::writes_refused() const { return events_->writes_refused(); }

KvStore::~KvStore() {
  if (db_ != nullptr) db_->Close();
}

absl::Status KvStore::Set(absl::string_view key, absl::string_view value) {
  rocksdb::WriteOptions write;
  write.sync = sync_;
  return FromRocks(db_->Put(write, ToSlice(key), ToSlice(value)));
}

absl::Status KvStore::Del(absl::string_view key) {
  rocksdb::WriteOptions write;
  write.sync = sync_;
  return FromRocks(db_->Delete(write, ToSlice(key)));
}

absl::StatusOr<std::optional<std::string>> KvStore::Get(absl::string_view key) {
  std::string value;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), ToSlice(key), &value);
  if (status.IsNotFound()) return std::nullopt;
  if (!status.ok()) return FromRocks(status);
  return value;
}

absl::StatusOr<KvStore::Outcome> KvStore::GetIfCached(absl::string_view key,
                                                      std::optional<std::string>* value) {
  rocksdb::ReadOptions read;
  read.read_tier = rocksdb::kBlockCacheTier;  // Incomplete rather than read a file
  std::string found;
  const rocksdb::Status status = db_->Get(read, ToSlice(key), &found);
  if (status.IsIncomplete()) return Outcome::kWouldBlock;
  if (status.IsNotFound()) {
    *value = std::nullopt;
    return Outcome::kDone;
  }
  if (!status.ok()) return FromRocks(status);
  *value = std::move(found);
  return Outcome::kDone;
}

absl::Status KvStore::Commit(const std::vector<Command>& commands) {
  size_t bytes = 0;  // room for the batch, so it is not regrown as it fills
  for (const Command& command : commands) bytes += command.key.size() + command.value.size() + 16;
  rocksdb::WriteBatch batch(bytes);
  for (const Command& command : commands) {
    const rocksdb::Status status = command.kind == Command::Kind::kSet
                                       ? batch.Put(ToSlice(command.key), ToSlice(command.value))
                                       : batch.Delete(ToSlice(command.key));
    if (!status.ok()) return FromRocks(status);
  }
  if (batch.Count() == 0) return absl::OkStatus();
  rocksdb::WriteOptions write;
  write.sync = sync_;
  return FromRocks(db_->Write(write, &batch));
}

absl::Status KvStore::Flush() { return FromRocks(db_->FlushWAL(/*sync=*/true)); }

int64_t KvStore::wal_syncs() const {
  if (statistics_ == nullptr) return -1;
  return static_cast<int64_t>(statistics_->getTickerCount(rocksdb::WAL_FILE_SYNCED));
}

}  // namespace handlers
