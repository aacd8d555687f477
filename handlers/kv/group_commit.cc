#include "handlers/kv/group_commit.h"

#include <utility>

#include "common/thread_name.h"

namespace handlers {

void GroupCommit::Start() {
  thread_ = std::thread([this] {
    common::NameThisThread("kv-commit");
    Run();
  });
}

void GroupCommit::Add(KvStore::Command command, Completion done,
                      std::shared_ptr<std::atomic<int>> queued) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queued->fetch_add(1, std::memory_order_relaxed);
      queue_.push_back({std::move(command), std::move(done), std::move(queued)});
      if (queue_.size() == 1) wake_.notify_one();
      return;
    }
  }
  done.Fail(absl::UnavailableError("kv is shutting down"));
}

void GroupCommit::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void GroupCommit::Run() {
  std::vector<Entry> entries;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is committed
      entries.swap(queue_);
    }
    CommitAndAnswer(entries);
    entries.clear();
  }
}

void GroupCommit::CommitAndAnswer(std::vector<Entry>& entries) {
  std::vector<KvStore::Command*> commands;
  commands.reserve(entries.size());
  for (Entry& entry : entries) commands.push_back(&entry.command);
  const absl::Status status = store_->Commit(commands);
  if (commits_ != nullptr) commits_->Add(1);
  if (commands_ != nullptr) commands_->Add(static_cast<int64_t>(entries.size()));
  for (Entry& entry : entries) {
    // Committed (or failed) before the count drops: a connection whose count is 0 reads it.
    entry.queued->fetch_sub(1, std::memory_order_release);
    if (!status.ok()) {
      entry.done.Fail(status);
    } else if (entry.command.kind != KvStore::Command::Kind::kGet) {
      entry.done.Finish("+");
    } else if (entry.command.found.has_value()) {
      entry.done.Finish(std::string("+") + *entry.command.found);
    } else {
      entry.done.Finish("-NOT_FOUND");
    }
  }
}

}  // namespace handlers
