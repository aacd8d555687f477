// The kv commands through the test kit (handler_testing.h): one path per command, as the server
// runs them: writes through a running group commit, cached reads at once, the rest offloaded.
#include "handlers/kv/kv.h"

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "handlers/handler_testing.h"
#include "handlers/kv/group_commit.h"

namespace handlers {
namespace {

using How = TestConnection::How;

std::string TempPath() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/kv_test_",
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

// The payload of an answer, or its error's code name.
std::string Text(const absl::StatusOr<std::string>& answer) {
  return answer.ok() ? *answer : std::string(absl::StatusCodeToString(answer.status().code()));
}

class KvHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = KvStore::Open(TempPath(), /*sync=*/false).value();
    group_ = std::make_unique<GroupCommit>(store_.get(), nullptr, nullptr);
    group_->Start();
    kv_ = std::make_unique<KvHandler>(store_.get(), group_.get());
    connection_ = std::make_unique<TestConnection>(*kv_);
  }
  void TearDown() override { EXPECT_EQ(connection_->misuses(), 0); }

  // Sends `request` on the test's connection and waits for its answer.
  std::string Run(absl::string_view request) {
    connection_->Send(request);
    return Text(connection_->Await(sent_++));
  }

  std::unique_ptr<KvStore> store_;
  std::unique_ptr<GroupCommit> group_;
  std::unique_ptr<KvHandler> kv_;
  std::unique_ptr<TestConnection> connection_;
  size_t sent_ = 0;
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

// The memtable overwrites a value in place when the new one is no longer: shorter, equal,
// empty and longer overwrites each read back whole, and survive a reopen (from the log).
TEST_F(KvHandlerTest, OverwritesReadBackWhateverTheirLength) {
  const std::string long_value(300, 'L');
  for (const std::string& value :
       {long_value, std::string("short"), std::string("equal"), std::string(), long_value + "+",
        std::string(200, 'x')}) {
    EXPECT_EQ(Run("SET k " + value), "+");
    EXPECT_EQ(Run("GET k"), "+" + value);
  }
  connection_.reset();
  kv_.reset();
  group_.reset();
  store_.reset();
  store_ = KvStore::Open(TempPath(), /*sync=*/false).value();
  absl::StatusOr<std::optional<std::string>> read = store_->Get("k");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->value_or("<none>"), std::string(200, 'x'));
  group_ = std::make_unique<GroupCommit>(store_.get(), nullptr, nullptr);
  group_->Start();
  kv_ = std::make_unique<KvHandler>(store_.get(), group_.get());
  connection_ = std::make_unique<TestConnection>(*kv_);
}

TEST_F(KvHandlerTest, MalformedCommandsAreInvalidArgument) {
  for (const std::string& bad :
       std::vector<std::string>{"", "SET", "SET ", "SET k", "GET", "GET ", "GET a b", "DEL ",
                                "PUT a 1", "set a 1", "SET  1",
                                std::string("GET ") + std::string(251, 'k')}) {
    EXPECT_EQ(Run(bad), "INVALID_ARGUMENT") << "'" << bad << "'";
  }
  EXPECT_EQ(Run("SET " + std::string(250, 'k') + " ok"), "+") << "250 bytes is the longest key";
}

// One write path: every SET and DEL is answered later, by the group commit, never at once.
TEST_F(KvHandlerTest, TheLoopAnswersCachedReadsAndQueuesEveryWrite) {
  TestConnection& c = *connection_;
  EXPECT_EQ(c.Send("GET nothing"), How::kNow);
  EXPECT_EQ(Text(c.Await(0)), "-NOT_FOUND");
  EXPECT_EQ(c.Send("SET a 1"), How::kLater);
  EXPECT_EQ(Text(c.Await(1)), "+");
  EXPECT_EQ(c.Send("GET a"), How::kNow);  // in the memtable
  EXPECT_EQ(Text(c.Await(2)), "+1");
  EXPECT_EQ(c.Send("DEL a"), How::kLater);
  EXPECT_EQ(Text(c.Await(3)), "+");
  EXPECT_EQ(c.Send("GET a"), How::kNow);
  EXPECT_EQ(Text(c.Await(4)), "-NOT_FOUND");
  EXPECT_EQ(c.Send("PUT a 1"), How::kError);
  EXPECT_EQ(Text(c.Await(5)), "INVALID_ARGUMENT");
}

// The SET path does not depend on what else the connection has under way: after a GET that
// had to be offloaded, the next SET still goes to the group commit (it used to be written
// straight to the store, synced on its own, when a call of the connection was on a thread).
TEST(KvStoreTest, AGetThatMustReadAFileIsOffloadedAndTheSetAfterItIsGroupCommitted) {
  const std::string path = TempPath();
  {
    std::unique_ptr<KvStore> store = KvStore::Open(path, /*sync=*/true).value();
    ASSERT_TRUE(store->Set("cold", "value").ok());
  }
  // Reopened: recovery wrote the log to a table file, and the block cache is empty.
  std::unique_ptr<KvStore> store = KvStore::Open(path, /*sync=*/true).value();
  HandlerCounter commits, commands;
  GroupCommit group(store.get(), &commits, &commands, nullptr, nullptr, /*cache_bytes=*/1 << 20);
  group.Start();
  KvHandler kv(store.get(), &group);
  TestConnection c(kv);
  EXPECT_EQ(c.Send("GET cold"), How::kOffloaded);
  EXPECT_EQ(Text(c.Await(0)), "+value");
  EXPECT_EQ(group.values().size(), 1u) << "what the store answered is cached";
  EXPECT_EQ(c.Send("GET cold"), How::kNow) << "now in the block cache";
  EXPECT_EQ(Text(c.Await(1)), "+value");
  EXPECT_EQ(c.Send("SET warm 1"), How::kLater);
  EXPECT_EQ(Text(c.Await(2)), "+");
  EXPECT_EQ(commits.value(), 1);
  EXPECT_EQ(commands.value(), 1);
  EXPECT_EQ(c.misuses(), 0);
  group.Stop();
}

}  // namespace
}  // namespace handlers
