// Makes --handler=kv available in any binary that links //handlers/kv, with its own flags.
#include <memory>

#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "handlers/kv/group_commit.h"
#include "handlers/kv/kv.h"
#include "handlers/kv/kv_store.h"
#include "handlers/registry.h"
#include "handlers/service.h"

DEFINE_string(kv_path, "", "kv handler: the database directory (created if missing). Required.");
DEFINE_bool(kv_sync, true,
            "kv handler: true: a '+' to SET or DEL means the write is in RocksDB's write-ahead "
            "log on disk (each group commit is fsynced). false: the log is written but not "
            "fsynced: faster; a killed server loses nothing, a power loss or kernel crash may "
            "lose the last writes acknowledged.");

DEFINE_int64(kv_memtable_bytes, int64_t{64} << 20,
             "kv handler: the size of each of RocksDB's two memtables (the one filling, the one "
             "being flushed): writes held in memory before they go to a table file.");
DEFINE_int64(kv_block_cache_bytes, int64_t{64} << 20,
             "kv handler: RocksDB's block cache, which keeps table blocks read from disk for "
             "GETs (a GET it answers stays on the worker's loop).");
DEFINE_int64(kv_cache_bytes, int64_t{64} << 20,
             "kv handler: the values of keys written or read recently, kept in front of RocksDB "
             "(a GET they answer is a hash lookup); the oldest are dropped past this. 0: none.");

namespace handlers {
namespace {

// What the connections share: the store, and the group commit that writes to it.
class KvService : public Service {
 public:
  absl::Status Start(StartContext& context) override {
    if (FLAGS_kv_path.empty()) return absl::InvalidArgumentError("--kv_path is required");
    if (FLAGS_kv_memtable_bytes < (int64_t{64} << 10) || FLAGS_kv_memtable_bytes > (int64_t{1} << 36)) {
      return absl::InvalidArgumentError("--kv_memtable_bytes must be in 65536..2^36");
    }
    if (FLAGS_kv_block_cache_bytes < 0 || FLAGS_kv_block_cache_bytes > (int64_t{1} << 40)) {
      return absl::InvalidArgumentError("--kv_block_cache_bytes must be in 0..2^40");
    }
    if (FLAGS_kv_cache_bytes < 0 || FLAGS_kv_cache_bytes > (int64_t{1} << 40)) {
      return absl::InvalidArgumentError("--kv_cache_bytes must be in 0..2^40");
    }
    KvStore::Options options;
    options.sync = FLAGS_kv_sync;
    options.memtable_bytes = FLAGS_kv_memtable_bytes;
    options.block_cache_bytes = FLAGS_kv_block_cache_bytes;
    options.writes_refused = context.AddGauge("writes_refused");
    absl::StatusOr<std::unique_ptr<KvStore>> opened = KvStore::Open(FLAGS_kv_path, options);
    if (!opened.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--kv_path: ", opened.status().message()));
    }
    store_ = std::move(*opened);
    commits_ = std::make_unique<GroupCommit>(store_.get(), context.AddCounter("commits"),
                                             context.AddCounter("committed_commands"),
                                             context.memory_budget(),
                                             context.AddCounter("write_errors"),
                                             FLAGS_kv_cache_bytes);
    commits_->Start();
    return absl::OkStatus();
  }
  std::unique_ptr<Handler> NewHandler(const HandlerContext& context) override {
    return std::make_unique<KvHandler>(store_.get(), commits_.get(), context.turn_end);
  }
  void Drain() override {
    commits_->Stop();  // commits what is queued
    if (absl::Status status = store_->Flush(); !status.ok()) LOG(ERROR) << status.message();
  }
  void Stop() override {
    commits_.reset();
    store_.reset();
  }

 private:
  std::unique_ptr<KvStore> store_;
  std::unique_ptr<GroupCommit> commits_;  // writes to store_: goes first
};

}  // namespace
}  // namespace handlers

REGISTER_SERVICE(kv,
                 "A durable key-value store on RocksDB: SET <key> <value>, GET <key>, DEL <key> "
                 "(docs/kv.md).",
                 handlers::KvService);
