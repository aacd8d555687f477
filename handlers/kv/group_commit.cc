#include "handlers/kv/group_commit.h"

#include <optional>
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
  std::unique_lock<std::mutex> lock(mu_);
  started_.wait(lock, [this] { return waiting_; });
}

absl::Status GroupCommit::Add(KvStore::Command::Kind kind, absl::string_view key,
                              absl::string_view value, Reply& reply, TurnEnd* turn_end) {
  // Charged before the copies are made (the queue's, and values_'s with its slot): a refused
  // command never holds memory the budget missed.
  const int64_t bytes = static_cast<int64_t>(sizeof(Entry) + 2 * (key.size() + value.size()) + 64);
  if (memory_ != nullptr && !memory_->TryCharge(bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "kv: --max_buffer_memory has no room to queue this command's ", bytes,
        " bytes for the next commit; nothing was written, retry later"));
  }
  Entry entry{Charge(memory_, bytes), kind, std::string(key), std::string(value), reply.Defer(),
              0};
  bool queued = false, first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      // Under mu_, so that the writes of a key are pending in the order they are committed.
      entry.version = values_.Put(key, kind == KvStore::Command::Kind::kSet
                                           ? std::optional<absl::string_view>(value)
                                           : std::nullopt);
      queue_.push_back(std::move(entry));
      queued = true;
      first = queue_.size() == 1;
    }
  }
  if (queued) {
    // Woken after the unlock, so that the thread takes the lock at once; without a worker, only
    // by the write that found the queue empty (the others' wake-up is on its way).
    if (turn_end != nullptr) {
      turn_end->CallAtEnd(this);
    } else if (first) {
      wake_.notify_one();
    }
    return absl::OkStatus();
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
  std::unique_lock<std::mutex> lock(mu_);
  waiting_ = true;  // Start() returns once this thread waits (mu_ is held until it does)
  started_.notify_one();
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is committed
    entries.swap(queue_);
    lock.unlock();
    CommitAndAnswer(entries);
    entries.clear();
    lock.lock();
  }
}

void GroupCommit::CommitAndAnswer(std::vector<Entry>& entries) {
  if (before_commit_) before_commit_(entries.size());
  std::vector<KvStore::Command> commands;
  commands.reserve(entries.size());
  for (const Entry& entry : entries) {
    commands.push_back({entry.kind, entry.key, entry.value});
  }
  const absl::Status status = store_->Commit(commands);
  if (commits_ != nullptr) commits_->Add(1);
  if (commands_ != nullptr) commands_->Add(static_cast<int64_t>(entries.size()));
  if (!status.ok() && write_errors_ != nullptr) {
    write_errors_->Add(static_cast<int64_t>(entries.size()));
  }
  for (Entry& entry : entries) {
    // Stored, or withdrawn if the commit failed, before the answer leaves: a GET sent after a
    // refusal reads what the store has.
    if (status.ok()) {
      values_.Done(entry.key, entry.version);
      Spend(entry).Finish("+");
    } else {
      values_.Withdraw(entry.key, entry.version);
      Spend(entry).Fail(status);
    }
  }
}

}  // namespace handlers
