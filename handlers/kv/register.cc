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

namespace handlers {
namespace {

// What the connections share: the store, and the group commit that writes to it.
class KvService : public Service {
 public:
  absl::Status Start(StartContext& context) override {
    if (FLAGS_kv_path.empty()) return absl::InvalidArgumentError("--kv_path is required");
    absl::StatusOr<std::unique_ptr<KvStore>> opened = KvStore::Open(FLAGS_kv_path, FLAGS_kv_sync);
    if (!opened.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--kv_path: ", opened.status().message()));
    }
    store_ = std::move(*opened);
    commits_ = std::make_unique<GroupCommit>(store_.get(), context.AddCounter("commits"),
                                             context.AddCounter("committed_commands"),
                                             context.memory_budget());
    commits_->Start();
    return absl::OkStatus();
  }
  std::unique_ptr<Handler> NewHandler(const HandlerContext&) override {
    return std::make_unique<KvHandler>(store_.get(), commits_.get());
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
