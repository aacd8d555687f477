#include "handlers/kv/group_commit.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/thread_name.h"

namespace handlers {

void GroupCommit::Start() {
  thread_ = std::thread([this] {
    common::NameThisThread("kv-commit");
    Run();
  });
}

absl::Status GroupCommit::Add(KvStore::Command::Kind kind, absl::string_view key,
                              absl::string_view value, Reply& reply,
                              std::shared_ptr<std::atomic<int>> queued) {
  // Charged before the copy is made: a refused command never holds memory the budget missed.
  const int64_t bytes = static_cast<int64_t>(sizeof(Entry) + key.size() + value.size());
  if (memory_ != nullptr && !memory_->TryCharge(bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "kv: --max_buffer_memory has no room to queue this command's ", bytes,
        " bytes for the next commit; nothing was written, retry later"));
  }
  Entry entry{Charge(memory_, bytes),
              {kind, std::string(key), std::string(value), {}},
              reply.Defer(),
              std::move(queued)};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      entry.queued->fetch_add(1, std::memory_order_relaxed);
      queue_.push_back(std::move(entry));
      if (queue_.size() == 1) wake_.notify_one();
      return absl::OkStatus();
    }
  }
  Spend(entry).Fail(absl::UnavailableError("kv is shutting down"));
  return absl::OkStatus();  // answered, through the deferred reply
}

Completion GroupCommit::Spend(Entry& entry) {
  Completion done = std::move(entry.done);
  { Entry spent = std::move(entry); }
  return done;
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
  if (before_commit_) before_commit_(entries.size());
  std::vector<KvStore::Command*> commands;
  commands.reserve(entries.size());
  for (Entry& entry : entries) commands.push_back(&entry.command);
  const absl::Status status = store_->Commit(commands);
  if (commits_ != nullptr) commits_->Add(1);
  if (commands_ != nullptr) commands_->Add(static_cast<int64_t>(entries.size()));
  if (!status.ok() && write_errors_ != nullptr) {
    write_errors_->Add(std::count_if(entries.begin(), entries.end(), [](const Entry& entry) {
      return entry.command.kind != KvStore::Command::Kind::kGet;
    }));
  }
  for (Entry& entry : entries) {
    // Committed (or failed) before the count drops: a connection whose count is 0 reads it.
    entry.queued->fetch_sub(1, std::memory_order_release);
    std::string answer;
    if (entry.command.kind != KvStore::Command::Kind::kGet) {
      answer = "+";
    } else if (entry.command.found.has_value()) {
      answer = std::string("+") + *entry.command.found;
    } else {
      answer = "-NOT_FOUND";
    }
    Completion done = Spend(entry);
    if (status.ok()) {
      done.Finish(std::move(answer));
    } else {
      done.Fail(status);
    }
  }
}

}  // namespace handlers
