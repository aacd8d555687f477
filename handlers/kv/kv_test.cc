#include "handlers/kv/kv.h"

#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"
#include "handlers/kv/group_commit.h"
#include "server/memory/memory_budget.h"

namespace handlers {
namespace {

class KvHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string path = std::string(tmp ? tmp : "/tmp") + "/kv_test_" +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name();
    store_ = KvStore::Open(path, /*sync=*/false).value();
  }
  std::string Run(absl::string_view request) {
    GroupCommit unused(store_.get(), nullptr, nullptr);  // Handle() writes straight to the store
    KvHandler kv(store_.get(), &unused);
    absl::StatusOr<std::string> reply = HandleToString(kv, request);
    return reply.ok() ? *reply : std::string(absl::StatusCodeToString(reply.status().code()));
  }
  std::unique_ptr<KvStore> store_;
};

TEST_F(KvHandlerTest, SetGetDel) {
  EXPECT_EQ(Run("GET a"), "-NOT_FOUND");
  EXPECT_EQ(Run("SET a 1"), "+");
  EXPECT_EQ(Run("GET a"), "+1");
  EXPECT_EQ(Run("SET a value with spaces"), "+");
  EXPECT_EQ(Run("GET a"), "+value with spaces");
  EXPECT_EQ(Run("DEL a"), "+");
  EXPECT_EQ(Run("GET a"), "-NOT_FOUND");
  EXPECT_EQ(Run("DEL a"), "+") << "deleting a missing key succeeds";
}

TEST_F(KvHandlerTest, ValuesAreBinarySafeAndMayBeEmpty) {
  EXPECT_EQ(Run("SET empty "), "+");
  EXPECT_EQ(Run("GET empty"), "+");
  const std::string binary("\0\x01\xff \n\r\0", 7);
  EXPECT_EQ(Run("SET bin " + binary), "+");
  EXPECT_EQ(Run("GET bin"), "+" + binary);
  const std::string big(1 << 20, 'v');
  EXPECT_EQ(Run("SET big " + big), "+");
  EXPECT_EQ(Run("GET big"), "+" + big);
}

TEST_F(KvHandlerTest, MalformedCommandsAreInvalidArgument) {
  for (const std::string& bad : std::vector<std::string>{"", "SET", "SET ", "SET k", "GET", "GET ", "GET a b", "DEL ",
                                "PUT a 1", "set a 1", "SET  1", std::string("GET ") + std::string(251, 'k')}) {
    EXPECT_EQ(Run(bad), "INVALID_ARGUMENT") << "'" << bad << "'";
  }
  EXPECT_EQ(Run("SET " + std::string(250, 'k') + " ok"), "+") << "250 bytes is the longest key";
}

std::string TempPath(absl::string_view suffix) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/kv_test_",
                      ::testing::UnitTest::GetInstance()->current_test_info()->name(), suffix);
}

// Collects later answers, as the server would, and hands out completions that lead here. At
// each answer it also notes what `probe` says (the store's fsync count), on the answering thread.
class AnswerSink : public CompletionSink,
                   public Deferrer,
                   public std::enable_shared_from_this<AnswerSink> {
 public:
  explicit AnswerSink(std::function<int64_t()> probe = nullptr) : probe_(std::move(probe)) {}
  void Complete(uint64_t request, absl::Status status, std::string payload, bool) override {
    std::lock_guard<std::mutex> lock(mu_);
    answers_[request] = status.ok() ? payload : std::string(absl::StatusCodeToString(status.code()));
    if (probe_) probed_[request] = probe_();
    changed_.notify_all();
  }
  Completion Defer() override { return Completion(shared_from_this(), next_++); }
  // The answer to the `request`th deferred request, once it has come.
  std::string Await(uint64_t request) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return answers_.count(request) > 0; });
    return answers_[request];
  }
  // What the probe said when `request` was answered (after Await).
  int64_t ProbedAt(uint64_t request) {
    std::lock_guard<std::mutex> lock(mu_);
    return probed_.at(request);
  }
  size_t answered() {
    std::lock_guard<std::mutex> lock(mu_);
    return answers_.size();
  }

 private:
  const std::function<int64_t()> probe_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<uint64_t, std::string> answers_;
  std::map<uint64_t, int64_t> probed_;
  uint64_t next_ = 0;
};

// Holds every commit on the commit thread, before it is written, until Open(): the test then
// knows what each batch holds and can look at the handler while a commit is under way.
class CommitGate {
 public:
  // For GroupCommit::set_before_commit_for_testing.
  std::function<void(size_t)> Hook() {
    return [this](size_t commands) {
      std::unique_lock<std::mutex> lock(mu_);
      sizes_.push_back(commands);
      changed_.notify_all();
      changed_.wait(lock, [&] { return open_; });
    };
  }
  // Waits until `n` commits have reached the gate (the last one held there if still closed).
  void AwaitCommits(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return sizes_.size() >= n; });
  }
  // Lets the held commit and every later one through.
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  // The number of commands of each commit so far.
  std::vector<size_t> sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return sizes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<size_t> sizes_;
  bool open_ = false;
};

// What HandleWithoutBlocking did with one request: "declined", "deferred", or the reply.
std::string TryNow(KvHandler& kv, Deferrer* deferrer, absl::string_view request) {
  protocol::Buffer out;
  Reply reply(&out, deferrer);
  absl::StatusOr<bool> answered = kv.HandleWithoutBlocking(request, reply);
  if (!answered.ok()) return std::string(absl::StatusCodeToString(answered.status().code()));
  if (!*answered) return "declined";
  return reply.deferred() ? "deferred" : std::string(out.view());
}

TEST_F(KvHandlerTest, TheLoopAnswersCachedReadsAndQueuesWrites) {
  GroupCommit group(store_.get(), nullptr, nullptr);
  group.Start();
  auto sink = std::make_shared<AnswerSink>();
  KvHandler kv(store_.get(), &group);
  EXPECT_EQ(TryNow(kv, sink.get(), "GET nothing"), "-NOT_FOUND");
  EXPECT_EQ(TryNow(kv, sink.get(), "SET a 1"), "deferred");
  EXPECT_EQ(sink->Await(0), "+");
  EXPECT_EQ(TryNow(kv, sink.get(), "GET a"), "+1");  // in the memtable
  EXPECT_EQ(TryNow(kv, sink.get(), "DEL a"), "deferred");
  EXPECT_EQ(sink->Await(1), "+");
  EXPECT_EQ(TryNow(kv, sink.get(), "GET a"), "-NOT_FOUND");
  EXPECT_EQ(TryNow(kv, sink.get(), "PUT a 1"), "INVALID_ARGUMENT");
}

TEST(KvGroupCommitTest, SyncedWritesAreAnsweredAfterTheirCommitAndReadInOrder) {
  std::unique_ptr<KvStore> store =
      KvStore::Open(TempPath(""), /*sync=*/true, /*count_wal_syncs=*/true).value();
  HandlerCounter commits, commands;
  CommitGate gate;
  GroupCommit group(store.get(), &commits, &commands);
  group.set_before_commit_for_testing(gate.Hook());
  group.Start();
  auto sink = std::make_shared<AnswerSink>([&store] { return store->wal_syncs(); });
  KvHandler kv(store.get(), &group);
  const int64_t syncs = store->wal_syncs();
  EXPECT_EQ(TryNow(kv, sink.get(), "SET a 1"), "deferred");
  gate.AwaitCommits(1);  // commit 1 holds the SET, not yet written
  // A GET behind a queued write waits with it, in order; all of these make commit 2.
  EXPECT_EQ(TryNow(kv, sink.get(), "GET a"), "deferred");
  EXPECT_EQ(TryNow(kv, sink.get(), "SET a 2"), "deferred");
  EXPECT_EQ(TryNow(kv, sink.get(), "GET a"), "deferred");
  EXPECT_EQ(TryNow(kv, sink.get(), "DEL a"), "deferred");
  EXPECT_EQ(TryNow(kv, sink.get(), "GET a"), "deferred");
  EXPECT_EQ(sink->answered(), 0u) << "answered before its commit was written";
  gate.Open();
  EXPECT_EQ(sink->Await(0), "+");
  EXPECT_EQ(sink->Await(1), "+1");
  EXPECT_EQ(sink->Await(2), "+");
  EXPECT_EQ(sink->Await(3), "+2");
  EXPECT_EQ(sink->Await(4), "+");
  EXPECT_EQ(sink->Await(5), "-NOT_FOUND");
  // Each answer left after its own commit's fsync, not before it, nor after a later one.
  EXPECT_EQ(sink->ProbedAt(0), syncs + 1);
  for (uint64_t request = 1; request <= 5; ++request) {
    EXPECT_EQ(sink->ProbedAt(request), syncs + 2) << "request " << request;
  }
  EXPECT_EQ(TryNow(kv, sink.get(), "SET b x"), "deferred");
  EXPECT_EQ(sink->Await(6), "+");
  EXPECT_EQ(sink->ProbedAt(6), syncs + 3);
  // With nothing of this connection queued, a GET is answered on the loop, and sees the write.
  EXPECT_EQ(TryNow(kv, sink.get(), "GET b"), "+x");
  EXPECT_EQ(gate.sizes(), (std::vector<size_t>{1, 5, 1}));
  EXPECT_EQ(commits.value(), 3);
  EXPECT_EQ(commands.value(), 7);
  EXPECT_EQ(store->wal_syncs(), syncs + 3) << "one fsync per commit";
  group.Stop();
  // A write queued after Stop is refused, not lost silently.
  EXPECT_EQ(TryNow(kv, sink.get(), "SET c 1"), "deferred");
  EXPECT_EQ(sink->Await(7), "UNAVAILABLE");
  EXPECT_EQ(*store->Get("b"), std::optional<std::string>("x"));
  EXPECT_EQ(*store->Get("c"), std::nullopt);
}

TEST(KvGroupCommitTest, ManyConnectionsWritesShareCommits) {
  std::unique_ptr<KvStore> store =
      KvStore::Open(TempPath(""), /*sync=*/true, /*count_wal_syncs=*/true).value();
  HandlerCounter commits, commands;
  CommitGate gate;
  GroupCommit group(store.get(), &commits, &commands);
  group.set_before_commit_for_testing(gate.Hook());
  group.Start();
  auto sink = std::make_shared<AnswerSink>();
  const int64_t syncs = store->wal_syncs();
  std::vector<std::unique_ptr<KvHandler>> connections;
  for (int i = 0; i < 200; ++i) {
    connections.push_back(std::make_unique<KvHandler>(store.get(), &group));
    EXPECT_EQ(TryNow(*connections.back(), sink.get(), absl::StrCat("SET k", i, " v", i)),
              "deferred");
    if (i == 0) gate.AwaitCommits(1);  // the first write's commit is held; 199 queue behind it
  }
  gate.Open();
  for (int i = 0; i < 200; ++i) EXPECT_EQ(sink->Await(i), "+");
  group.Stop();
  // What queued during a commit goes in the next one, all of it: two commits, two fsyncs.
  EXPECT_EQ(gate.sizes(), (std::vector<size_t>{1, 199}));
  EXPECT_EQ(commits.value(), 2);
  EXPECT_EQ(commands.value(), 200);
  EXPECT_EQ(store->wal_syncs(), syncs + 2);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(*store->Get(absl::StrCat("k", i)), std::optional<std::string>(absl::StrCat("v", i)));
  }
}

// Issue 24: writes queued for the commit are copies the server's memory budget must see. One
// connection may have 64 requests in flight (--max_inflight_per_connection); 64 SETs of 1 MiB
// while a commit is held would queue 64 MiB against a budget of 8.
TEST(KvGroupCommitTest, AFloodOfLargeSetsStaysWithinTheMemoryBudget) {
  std::unique_ptr<KvStore> store = KvStore::Open(TempPath(""), /*sync=*/false).value();
  constexpr int64_t kBudget = 8 << 20;
  server::MemoryBudget budget(kBudget);  // the server's own, as the start hook is given it
  CommitGate gate;
  GroupCommit group(store.get(), nullptr, nullptr, &budget);
  group.set_before_commit_for_testing(gate.Hook());
  group.Start();
  auto sink = std::make_shared<AnswerSink>();
  KvHandler other(store.get(), &group);
  ASSERT_EQ(TryNow(other, sink.get(), "SET first 1"), "deferred");
  gate.AwaitCommits(1);  // held: nothing below is committed, answered or freed until Open()

  KvHandler flood(store.get(), &group);
  const std::string value(1 << 20, 'v');
  std::vector<std::string> accepted, refused;
  int64_t queued_bytes = 0;  // keys and values accepted, all still queued
  for (int i = 0; i < 64; ++i) {
    const std::string key = absl::StrCat("big", i);
    const std::string result = TryNow(flood, sink.get(), absl::StrCat("SET ", key, " ", value));
    if (result == "deferred") {
      accepted.push_back(key);
      queued_bytes += static_cast<int64_t>(key.size() + value.size());
    } else {
      EXPECT_EQ(result, "RESOURCE_EXHAUSTED") << key;
      refused.push_back(key);
    }
  }
  // Observed while the commit is held, when what is queued is at its peak. A handler's queue
  // may fill half the budget (the rest is the connections': memory_budget.h).
  EXPECT_LE(queued_bytes, budget.HandlerShare()) << "writes queued beyond their share";
  EXPECT_GE(budget.used(), queued_bytes) << "queued writes the budget does not see";
  EXPECT_LE(budget.used(), budget.HandlerShare());
  // Refused only for want of room: less than one more write's worth was left.
  EXPECT_LT(budget.HandlerShare() - budget.used(), static_cast<int64_t>(value.size()));
  EXPECT_FALSE(refused.empty());

  gate.Open();
  EXPECT_EQ(sink->Await(0), "+");
  for (size_t i = 0; i < accepted.size(); ++i) EXPECT_EQ(sink->Await(i + 1), "+") << accepted[i];
  // A command's charge is given back before its answer leaves.
  EXPECT_EQ(budget.used(), 0) << "charges kept after their writes were answered";
  // So a refused write may be sent again once the queue has drained, and is stored.
  ASSERT_FALSE(refused.empty());
  const uint64_t retry = accepted.size() + 1;
  EXPECT_EQ(TryNow(flood, sink.get(), absl::StrCat("SET ", refused[0], " ", value)), "deferred");
  EXPECT_EQ(sink->Await(retry), "+");
  EXPECT_EQ(budget.used(), 0);
  group.Stop();
  // Stopped: a write is answered UNAVAILABLE, and its charge given back with it.
  EXPECT_EQ(TryNow(flood, sink.get(), "SET late x"), "deferred");
  EXPECT_EQ(sink->Await(retry + 1), "UNAVAILABLE");
  EXPECT_EQ(budget.used(), 0);
  // Every acknowledged write is stored; nothing of a refused one is.
  for (const std::string& key : accepted) EXPECT_TRUE(*store->Get(key) == value) << key;
  EXPECT_TRUE(*store->Get(refused[0]) == value) << refused[0];
  for (size_t i = 1; i < refused.size(); ++i) {
    EXPECT_EQ(*store->Get(refused[i]), std::nullopt) << refused[i];
  }
  EXPECT_EQ(*store->Get("late"), std::nullopt);
}

TEST(KvStoreTest, AGetThatMustReadAFileIsDeclinedOnTheLoopAndAnsweredByHandle) {
  const std::string path = TempPath("");
  {
    std::unique_ptr<KvStore> store = KvStore::Open(path, /*sync=*/true).value();
    ASSERT_TRUE(store->Set("cold", "value").ok());
  }
  // Reopened: recovery wrote the log to a table file, and the block cache is empty.
  std::unique_ptr<KvStore> store = KvStore::Open(path, /*sync=*/true).value();
  GroupCommit group(store.get(), nullptr, nullptr);
  KvHandler kv(store.get(), &group);
  EXPECT_EQ(TryNow(kv, nullptr, "GET cold"), "declined");
  EXPECT_EQ(*HandleToString(kv, "GET cold"), "+value");
  EXPECT_EQ(TryNow(kv, nullptr, "GET cold"), "+value") << "now in the block cache";
}

}  // namespace
}  // namespace handlers
