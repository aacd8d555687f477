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
  const size_t copied = key.size() + value.size();
  const int64_t bytes =
      static_cast<int64_t>(sizeof(Entry) + ByteBlocks::MostBytesFor(copied) + copied + 64);
  if (memory_ != nullptr && !memory_->TryCharge(bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "kv: --max_buffer_memory has no room to queue this command's ", bytes,
        " bytes for the next commit; nothing was written, retry later"));
  }
  Charge charge(memory_, bytes);
  Completion done = reply.Defer();
  bool queued = false, first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      // Under mu_, so that the writes of a key are pending in the order they are committed.
      const uint64_t version = values_.Put(
          key, kind == KvStore::Command::Kind::kSet ? std::optional<absl::string_view>(value)
                                                    : std::nullopt);
      queue_.push_back({std::move(charge), kind, static_cast<uint32_t>(key.size()),
                        static_cast<uint32_t>(value.size()), queued_bytes_.Copy(key, value),
                        std::move(done), version});
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
  { Charge given_back = std::move(charge); }  // before the answer leaves
  done.Fail(absl::UnavailableError("kv is shutting down"));
  return absl::OkStatus();  // answered, through the deferred reply
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
  ByteBlocks bytes;
  std::vector<KvStore::Command> commands;
  std::unique_lock<std::mutex> lock(mu_);
  waiting_ = true;  // Start() returns once this thread waits (mu_ is held until it does)
  started_.notify_one();
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is committed
    entries.swap(queue_);
    std::swap(bytes, queued_bytes_);
    lock.unlock();
    CommitAndAnswer(entries, bytes, commands);
    lock.lock();
  }
}

void GroupCommit::CommitAndAnswer(std::vector<Entry>& entries, ByteBlocks& bytes,
                                  std::vector<KvStore::Command>& commands) {
  if (before_commit_) before_commit_(entries.size());
  for (const Entry& entry : entries) commands.push_back({entry.kind, entry.key(), entry.value()});
  const absl::Status status = store_->Commit(commands);
  commands.clear();
  if (commits_ != nullptr) commits_->Add(1);
  if (commands_ != nullptr) commands_->Add(static_cast<int64_t>(entries.size()));
  if (!status.ok() && write_errors_ != nullptr) {
    write_errors_->Add(static_cast<int64_t>(entries.size()));
  }
  // Stored, or withdrawn if the commit failed, before the answers leave: a GET sent after a
  // refusal reads what the store has.
  for (const Entry& entry : entries) {
    if (status.ok()) {
      values_.Done(entry.key(), entry.version);
    } else {
      values_.Withdraw(entry.key(), entry.version);
    }
  }
  // The copies freed and the charges given back before the answers leave too: an answered
  // command holds nothing (but one block kept for the next batch, outside the budget).
  bytes.Clear();
  for (Entry& entry : entries) {
    Charge given_back = std::move(entry.charge);
  }
  for (Entry& entry : entries) {
    if (status.ok()) {
      entry.done.Finish("+");
    } else {
      entry.done.Fail(status);
    }
  }
  entries.clear();
}

}  // namespace handlers
