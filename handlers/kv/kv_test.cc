#include "handlers/kv/kv.h"

#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"
#include "handlers/kv/group_commit.h"

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

// Collects later answers, as the server would, and hands out completions that lead here.
class AnswerSink : public CompletionSink,
                   public Deferrer,
                   public std::enable_shared_from_this<AnswerSink> {
 public:
  void Complete(uint64_t request, absl::Status status, std::string payload, bool) override {
    std::lock_guard<std::mutex> lock(mu_);
    answers_[request] = status.ok() ? payload : std::string(absl::StatusCodeToString(status.code()));
    changed_.notify_all();
  }
  Completion Defer() override { return Completion(shared_from_this(), next_++); }
  // The answer to the `request`th deferred request, once it has come.
  std::string Await(uint64_t request) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return answers_.count(request) > 0; });
    return answers_[request];
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<uint64_t, std::string> answers_;
  uint64_t next_ = 0;
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
  std::unique_ptr<KvStore> store = KvStore::Open(TempPath(""), /*sync=*/true).value();
  HandlerCounter commits, commands;
  GroupCommit group(store.get(), &commits, &commands);
  group.Start();
  auto sink = std::make_shared<AnswerSink>();
  KvHandler kv(store.get(), &group);
  // Every write waits for a commit; a GET behind a queued write waits with it, in order.
  EXPECT_EQ(TryNow(kv, sink.get(), "SET a 1"), "deferred");
  EXPECT_EQ(TryNow(kv, sink.get(), "GET a"), "deferred");
  EXPECT_EQ(TryNow(kv, sink.get(), "SET a 2"), "deferred");
  EXPECT_EQ(TryNow(kv, sink.get(), "GET a"), "deferred");
  EXPECT_EQ(TryNow(kv, sink.get(), "DEL a"), "deferred");
  EXPECT_EQ(TryNow(kv, sink.get(), "GET a"), "deferred");
  EXPECT_EQ(sink->Await(0), "+");
  EXPECT_EQ(sink->Await(1), "+1");
  EXPECT_EQ(sink->Await(2), "+");
  EXPECT_EQ(sink->Await(3), "+2");
  EXPECT_EQ(sink->Await(4), "+");
  EXPECT_EQ(sink->Await(5), "-NOT_FOUND");
  EXPECT_EQ(TryNow(kv, sink.get(), "SET b x"), "deferred");
  EXPECT_EQ(sink->Await(6), "+");
  // With nothing of this connection queued, a GET is answered on the loop, and sees the write.
  EXPECT_EQ(TryNow(kv, sink.get(), "GET b"), "+x");
  EXPECT_EQ(commands.value(), 7);
  EXPECT_GE(commits.value(), 1);
  EXPECT_LE(commits.value(), 7);
  group.Stop();
  // A write queued after Stop is refused, not lost silently.
  EXPECT_EQ(TryNow(kv, sink.get(), "SET c 1"), "deferred");
  EXPECT_EQ(sink->Await(7), "UNAVAILABLE");
  EXPECT_EQ(*store->Get("b"), std::optional<std::string>("x"));
}

TEST(KvGroupCommitTest, ManyConnectionsWritesShareCommits) {
  std::unique_ptr<KvStore> store = KvStore::Open(TempPath(""), /*sync=*/true).value();
  HandlerCounter commits, commands;
  GroupCommit group(store.get(), &commits, &commands);
  group.Start();
  auto sink = std::make_shared<AnswerSink>();
  std::vector<std::unique_ptr<KvHandler>> connections;
  for (int i = 0; i < 200; ++i) {
    connections.push_back(std::make_unique<KvHandler>(store.get(), &group));
    EXPECT_EQ(TryNow(*connections.back(), sink.get(), absl::StrCat("SET k", i, " v", i)),
              "deferred");
  }
  for (int i = 0; i < 200; ++i) EXPECT_EQ(sink->Await(i), "+");
  group.Stop();
  EXPECT_EQ(commands.value(), 200);
  EXPECT_LT(commits.value(), 200) << "each write had a commit of its own";
  for (int i = 0; i < 200; i += 37) {
    EXPECT_EQ(*store->Get(absl::StrCat("k", i)), std::optional<std::string>(absl::StrCat("v", i)));
  }
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
