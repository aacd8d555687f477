#include "handlers/kv/kv_store.h"

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace handlers {
namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

absl::Status FromRocks(const rocksdb::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("storage: ", status.ToString()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> KvStore::Open(const std::string& path, bool sync) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, path, &db);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", status.ToString()));
  }
  return std::unique_ptr<KvStore>(new KvStore(std::unique_ptr<rocksdb::DB>(db), sync));
}

KvStore::KvStore(std::unique_ptr<rocksdb::DB> db, bool sync) : db_(std::move(db)), sync_(sync) {}

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

absl::Status KvStore::Flush() { return FromRocks(db_->FlushWAL(/*sync=*/true)); }

}  // namespace handlers
