#include "handlers/kv/kv.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"

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
    KvHandler kv(store_.get());
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

}  // namespace
}  // namespace handlers
