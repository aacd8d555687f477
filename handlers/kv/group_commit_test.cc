// GroupCommit through the kv handler and the test kit (handler_testing.h): what one commit
// holds, when its answers leave, and what the queue costs the memory budget.
#include "handlers/kv/group_commit.h"

#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "handlers/handler_testing.h"
#include "handlers/kv/kv.h"
#include "server/memory/memory_budget.h"

namespace handlers {
namespace {

using How = TestConnection::How;

std::string TempPath() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/group_commit_test_",
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

// The payload of an answer, or its error's code name.
std::string Text(const absl::StatusOr<std::string>& answer) {
  return answer.ok() ? *answer : std::string(absl::StatusCodeToString(answer.status().code()));
}

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

// What `probe` said as each request was answered, on the answering thread.
class Probed {
 public:
  std::function<void(size_t)> Hook(std::function<int64_t()> probe) {
    return [this, probe](size_t n) {
      std::lock_guard<std::mutex> lock(mu_);
      at_[n] = probe();
    };
  }
  int64_t At(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    return at_.at(n);
  }

 private:
  std::mutex mu_;
  std::map<size_t, int64_t> at_;
};

// A write takes effect when it is handled: the GETs behind it (its own connection's and
// others') read it at once, before it is committed; its own answer waits for the commit's fsync.
TEST(KvGroupCommitTest, WritesAreReadAtOnceAndAnsweredAfterTheirCommit) {
  std::unique_ptr<KvStore> store =
      KvStore::Open(TempPath(), /*sync=*/true, /*count_wal_syncs=*/true).value();
  HandlerCounter commits, commands;
  CommitGate gate;
  GroupCommit group(store.get(), &commits, &commands);
  group.set_before_commit_for_testing(gate.Hook());
  group.Start();
  KvHandler kv(store.get(), &group);
  TestConnection c(kv);
  TestConnection other(kv);
  Probed probed;
  c.set_on_answer(probed.Hook([&store] { return store->wal_syncs(); }));
  const int64_t syncs = store->wal_syncs();
  EXPECT_EQ(c.Send("SET a 1"), How::kLater);
  gate.AwaitCommits(1);  // commit 1 holds the SET, not yet written
  // Each GET reads the write before it, answered on the loop; the writes make commit 2.
  const std::vector<std::pair<const char*, How>> sent = {
      {"GET a", How::kNow}, {"SET a 2", How::kLater}, {"GET a", How::kNow},
      {"DEL a", How::kLater}, {"GET a", How::kNow}};
  for (const auto& [request, how] : sent) EXPECT_EQ(c.Send(request), how) << request;
  EXPECT_EQ(Text(c.Await(1)), "+1");
  EXPECT_EQ(Text(c.Await(3)), "+2");
  EXPECT_EQ(Text(c.Await(5)), "-NOT_FOUND");
  EXPECT_EQ(other.Send("GET a"), How::kNow) << "another connection reads the pending DEL too";
  EXPECT_EQ(Text(other.Await(0)), "-NOT_FOUND");
  EXPECT_EQ(*store->Get("a"), std::nullopt) << "nothing is in the store before its commit";
  EXPECT_EQ(probed.At(1), syncs) << "the GET was answered before any commit";
  gate.Open();
  EXPECT_EQ(Text(c.Await(0)), "+");
  EXPECT_EQ(Text(c.Await(2)), "+");
  EXPECT_EQ(Text(c.Await(4)), "+");
  // Each write's answer left after its own commit's fsync, not before it, nor after a later one.
  EXPECT_EQ(probed.At(0), syncs + 1);
  EXPECT_EQ(probed.At(2), syncs + 2);
  EXPECT_EQ(probed.At(4), syncs + 2);
  // Committed, the writes are no longer pending: a GET reads the store.
  EXPECT_EQ(c.Send("SET b x"), How::kLater);
  EXPECT_EQ(Text(c.Await(6)), "+");
  EXPECT_EQ(group.values().size(), 0u) << "no cache: committed values are not kept";
  EXPECT_EQ(c.Send("GET b"), How::kNow);
  EXPECT_EQ(Text(c.Await(7)), "+x");
  EXPECT_EQ(gate.sizes(), (std::vector<size_t>{1, 2, 1}));
  EXPECT_EQ(commits.value(), 3);
  EXPECT_EQ(commands.value(), 4);
  EXPECT_EQ(store->wal_syncs(), syncs + 3) << "one fsync per commit";
  group.Stop();
  // A write queued after Stop is refused, not lost silently, and never read.
  EXPECT_EQ(c.Send("SET c 1"), How::kLater);
  EXPECT_EQ(Text(c.Await(8)), "UNAVAILABLE");
  EXPECT_EQ(c.Send("GET c"), How::kNow);
  EXPECT_EQ(Text(c.Await(9)), "-NOT_FOUND");
  EXPECT_EQ(*store->Get("b"), std::optional<std::string>("x"));
  EXPECT_EQ(*store->Get("c"), std::nullopt);
  EXPECT_EQ(c.misuses(), 0);
}

// A worker's turn (handlers/turn_end.h), as the test drives it: the hooks asked for, run when
// the test says the turn ended.
class TestTurn : public TurnEnd {
 public:
  void CallAtEnd(TurnEndHook* hook) override { asked.push_back(hook); }
  void End() {
    std::vector<TurnEndHook*> hooks;
    hooks.swap(asked);
    for (TurnEndHook* hook : hooks) hook->AtTurnEnd();
  }
  std::vector<TurnEndHook*> asked;
};

// With a worker, the commit thread is woken when the worker's turn ends, not at the first
// write: the writes of two connections handled in one turn make one commit.
TEST(KvGroupCommitTest, ATurnsWritesAreCommittedTogetherWhenItEnds) {
  std::unique_ptr<KvStore> store = KvStore::Open(TempPath(), /*sync=*/false).value();
  HandlerCounter commits, commands;
  CommitGate gate;
  gate.Open();  // records each commit's size, holds none
  GroupCommit group(store.get(), &commits, &commands);
  group.set_before_commit_for_testing(gate.Hook());
  group.Start();
  TestTurn turn;
  KvHandler kv(store.get(), &group, &turn);
  TestConnection c(kv);
  TestConnection d(kv);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.Send(absl::StrCat("SET c", i, " x")), How::kLater);
    EXPECT_EQ(d.Send(absl::StrCat("DEL d", i)), How::kLater);
  }
  EXPECT_EQ(turn.asked, std::vector<TurnEndHook*>(6, &group));
  EXPECT_EQ(c.Send("GET c2"), How::kNow) << "a write takes effect when handled, as before";
  EXPECT_EQ(d.answered(), 0u) << "nothing is committed before the turn ends";
  EXPECT_EQ(Text(c.Await(3)), "+x");
  turn.End();
  for (size_t n = 0; n < 3; ++n) {
    EXPECT_EQ(Text(c.Await(n)), "+");
    EXPECT_EQ(Text(d.Await(n)), "+");
  }
  EXPECT_EQ(gate.sizes(), std::vector<size_t>{6});
  EXPECT_EQ(commits.value(), 1);
}

TEST(KvGroupCommitTest, ManyConnectionsWritesShareCommits) {
  std::unique_ptr<KvStore> store =
      KvStore::Open(TempPath(), /*sync=*/true, /*count_wal_syncs=*/true).value();
  HandlerCounter commits, commands;
  CommitGate gate;
  GroupCommit group(store.get(), &commits, &commands);
  group.set_before_commit_for_testing(gate.Hook());
  group.Start();
  const int64_t syncs = store->wal_syncs();
  std::vector<std::unique_ptr<KvHandler>> handlers;
  std::vector<std::unique_ptr<TestConnection>> connections;
  for (int i = 0; i < 200; ++i) {
    handlers.push_back(std::make_unique<KvHandler>(store.get(), &group));
    connections.push_back(std::make_unique<TestConnection>(*handlers.back()));
    EXPECT_EQ(connections.back()->Send(absl::StrCat("SET k", i, " v", i)), How::kLater);
    if (i == 0) gate.AwaitCommits(1);  // the first write's commit is held; 199 queue behind it
  }
  gate.Open();
  for (int i = 0; i < 200; ++i) EXPECT_EQ(Text(connections[i]->Await(0)), "+");
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
  std::unique_ptr<KvStore> store = KvStore::Open(TempPath(), /*sync=*/false).value();
  constexpr int64_t kBudget = 8 << 20;
  server::MemoryBudget budget(kBudget);  // the server's own, as the start hook is given it
  CommitGate gate;
  GroupCommit group(store.get(), nullptr, nullptr, &budget);
  group.set_before_commit_for_testing(gate.Hook());
  group.Start();
  KvHandler other_kv(store.get(), &group);
  TestConnection other(other_kv);
  ASSERT_EQ(other.Send("SET first 1"), How::kLater);
  gate.AwaitCommits(1);  // held: nothing below is committed, answered or freed until Open()

  KvHandler flood_kv(store.get(), &group);
  TestConnection flood(flood_kv);
  const std::string value(1 << 20, 'v');
  std::vector<size_t> accepted;  // request numbers on `flood`
  std::vector<std::string> accepted_keys, refused;
  int64_t queued_bytes = 0;  // keys and values accepted, all still queued
  for (int i = 0; i < 64; ++i) {
    const std::string key = absl::StrCat("big", i);
    if (flood.Send(absl::StrCat("SET ", key, " ", value)) == How::kLater) {
      accepted.push_back(i);
      accepted_keys.push_back(key);
      queued_bytes += static_cast<int64_t>(key.size() + value.size());
    } else {
      EXPECT_EQ(Text(flood.Await(i)), "RESOURCE_EXHAUSTED") << key;
      refused.push_back(key);
    }
  }
  // Observed while the commit is held, when what is queued is at its peak. A handler's queue
  // may fill half the budget (the rest is the connections': memory_budget.h).
  EXPECT_LE(queued_bytes, budget.HandlerShare()) << "writes queued beyond their share";
  EXPECT_GE(budget.used(), queued_bytes) << "queued writes the budget does not see";
  EXPECT_LE(budget.used(), budget.HandlerShare());
  // Refused only for want of room: less than one more write's charge was left (the queue's copy
  // and the recent values' copy of its value, and a little more).
  EXPECT_LT(budget.HandlerShare() - budget.used(), 2 * static_cast<int64_t>(value.size()) + 1024);
  EXPECT_FALSE(refused.empty());

  gate.Open();
  EXPECT_EQ(Text(other.Await(0)), "+");
  for (size_t i = 0; i < accepted.size(); ++i) {
    EXPECT_EQ(Text(flood.Await(accepted[i])), "+") << accepted_keys[i];
  }
  // A command's charge is given back before its answer leaves.
  EXPECT_EQ(budget.used(), 0) << "charges kept after their writes were answered";
  // So a refused write may be sent again once the queue has drained, and is stored.
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(flood.Send(absl::StrCat("SET ", refused[0], " ", value)), How::kLater);
  EXPECT_EQ(Text(flood.Await(64)), "+");
  EXPECT_EQ(budget.used(), 0);
  group.Stop();
  // Stopped: a write is answered UNAVAILABLE, and its charge given back with it.
  EXPECT_EQ(flood.Send("SET late x"), How::kLater);
  EXPECT_EQ(Text(flood.Await(65)), "UNAVAILABLE");
  EXPECT_EQ(budget.used(), 0);
  // Every acknowledged write is stored; nothing of a refused one is.
  for (const std::string& key : accepted_keys) EXPECT_TRUE(*store->Get(key) == value) << key;
  EXPECT_TRUE(*store->Get(refused[0]) == value) << refused[0];
  for (size_t i = 1; i < refused.size(); ++i) {
    EXPECT_EQ(*store->Get(refused[i]), std::nullopt) << refused[i];
  }
  EXPECT_EQ(*store->Get("late"), std::nullopt);
}

}  // namespace
}  // namespace handlers
