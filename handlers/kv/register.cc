// Makes --handler=kv available in any binary that links //handlers/kv, with its own flags.
#include <memory>

#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "handlers/kv/group_commit.h"
#include "handlers/kv/kv.h"
#include "handlers/kv/kv_store.h"
#include "handlers/registry.h"

DEFINE_string(kv_path, "", "kv handler: the database directory (created if missing). Required.");
DEFINE_bool(kv_sync, true,
            "kv handler: true: a '+' to SET or DEL means the write is in RocksDB's write-ahead "
            "log on disk (each group commit is fsynced). false: the log is written but not "
            "fsynced: faster; a killed server loses nothing, a power loss or kernel crash may "
            "lose the last writes acknowledged.");

namespace handlers {
namespace {

std::unique_ptr<KvStore> store;  // opened by the start hook, closed by the stop hook
std::unique_ptr<GroupCommit> commits;  // started with the store, stopped at drain

absl::Status StartKv(StartContext& context) {
  if (FLAGS_kv_path.empty()) return absl::InvalidArgumentError("--kv_path is required");
  absl::StatusOr<std::unique_ptr<KvStore>> opened = KvStore::Open(FLAGS_kv_path, FLAGS_kv_sync);
  if (!opened.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--kv_path: ", opened.status().message()));
  }
  store = std::move(*opened);
  commits = std::make_unique<GroupCommit>(store.get(), context.AddCounter("commits"),
                                          context.AddCounter("committed_commands"),
                                          context.memory_budget());
  commits->Start();
  return absl::OkStatus();
}

void DrainKv() {
  commits->Stop();  // commits what is queued
  if (absl::Status status = store->Flush(); !status.ok()) LOG(ERROR) << status.message();
}

void StopKv() {
  commits.reset();
  store.reset();
}

}  // namespace
}  // namespace handlers

REGISTER_HANDLER_INFO(kv, {
    .description = "A durable key-value store on RocksDB: SET <key> <value>, GET <key>, DEL <key> "
                   "(docs/kv.md).",
    .factory = [](const handlers::HandlerContext&) -> std::unique_ptr<handlers::Handler> {
      return std::make_unique<handlers::KvHandler>(handlers::store.get(), handlers::commits.get());
    },
    .start = handlers::StartKv,
    .drain = handlers::DrainKv,
    .stop = handlers::StopKv,
});
