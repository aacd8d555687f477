#include "handlers/kv/kv_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "rocksdb/comparator.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/statistics.h"
#include "rocksdb/utilities/write_batch_with_index.h"

namespace handlers {
namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

absl::Status FromRocks(const rocksdb::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("storage: ", status.ToString()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> KvStore::Open(const std::string& path, bool sync,
                                                       bool count_wal_syncs) {
  rocksdb::Options options;
  options.create_if_missing = true;
  // Point lookups are all kv does: bloom filters and a 64 MiB block cache keep a GET of a key
  // that is not in the memtable off the disk (and answerable on the loop).
  options.OptimizeForPointLookup(/*block_cache_size_mb=*/64);
  if (count_wal_syncs) {  // counters only (no clock reads): what wal_syncs() reports
    options.statistics = rocksdb::CreateDBStatistics();
    options.statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  }
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, path, &db);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", status.ToString()));
  }
  return std::unique_ptr<KvStore>(
      new KvStore(std::unique_ptr<rocksdb::DB>(db), std::move(options.statistics), sync));
}

KvStore::KvStore(std::unique_ptr<rocksdb::DB> db, std::shared_ptr<rocksdb::Statistics> statistics,
                 bool sync)
    : statistics_(std::move(statistics)), db_(std::move(db)), sync_(sync) {}

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

absl::Status KvStore::Commit(std::vector<Command*>& commands) {
  const bool reads = std::any_of(commands.begin(), commands.end(), [](const Command* command) {
    return command->kind == Command::Kind::kGet;
  });
  // A GET must see the writes before it in the batch: that takes a batch with an index
  // (overwrite_key: a GET after two SETs of one key finds the second), which costs more to
  // fill than a plain one, so only batches with a GET get one.
  rocksdb::WriteBatchWithIndex indexed(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  size_t bytes = 0;  // room for the plain batch, so it is not regrown as it fills
  for (const Command* command : commands) bytes += command->key.size() + command->value.size() + 16;
  rocksdb::WriteBatch plain(reads ? 0 : bytes);
  rocksdb::WriteBatchBase* batch = reads ? static_cast<rocksdb::WriteBatchBase*>(&indexed) : &plain;
  for (Command* command : commands) {
    rocksdb::Status status;
    switch (command->kind) {
      case Command::Kind::kSet:
        status = batch->Put(ToSlice(command->key), ToSlice(command->value));
        break;
      case Command::Kind::kDel:
        status = batch->Delete(ToSlice(command->key));
        break;
      case Command::Kind::kGet: {
        std::string value;
        status = indexed.GetFromBatchAndDB(db_.get(), rocksdb::ReadOptions(),
                                           ToSlice(command->key), &value);
        if (status.IsNotFound()) {
          command->found = std::nullopt;
          status = rocksdb::Status::OK();
        } else if (status.ok()) {
          command->found = std::move(value);
        }
        break;
      }
    }
    if (!status.ok()) return FromRocks(status);
  }
  if (batch->GetWriteBatch()->Count() == 0) return absl::OkStatus();  // only GETs
  rocksdb::WriteOptions write;
  write.sync = sync_;
  return FromRocks(db_->Write(write, batch->GetWriteBatch()));
}

absl::Status KvStore::Flush() { return FromRocks(db_->FlushWAL(/*sync=*/true)); }

int64_t KvStore::wal_syncs() const {
  if (statistics_ == nullptr) return -1;
  return static_cast<int64_t>(statistics_->getTickerCount(rocksdb::WAL_FILE_SYNCED));
}

}  // namespace handlers
