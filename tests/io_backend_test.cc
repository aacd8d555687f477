// --io: choosing the backend, and falling back to epoll where io_uring cannot be set up.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

int CountOf(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

TEST(IoBackendTest, IoUringRefusedBySeccompFallsBackToEpollWithOneLogLine) {
  ServerProcess server =
      ServerProcess::Start({"--io=io_uring", "--workers=2"}, "tests/without_io_uring").value();
  for (int i = 0; i < 4; ++i) {  // both workers serve
    auto client = ConnectTo(server.port());
    ASSERT_NE(client, nullptr);
    EXPECT_EQ(PayloadOf(client->Call(absl::StrCat("fallback ", i))), absl::StrCat("fallback ", i));
  }
  const std::string log = server.Log();
  EXPECT_EQ(CountOf(log, "io_uring cannot be set up"), 1) << log;
  EXPECT_THAT(log, HasSubstr("io_uring_setup: Operation not permitted"));
  EXPECT_THAT(log, HasSubstr(" io=epoll "));
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(IoBackendTest, EachBackendSaysSoAtStartUp) {
  for (const std::string backend : {"epoll", "io_uring"}) {
    ServerProcess server = ServerProcess::Start({"--io=" + backend}).value();
    auto client = ConnectTo(server.port());
    ASSERT_NE(client, nullptr);
    EXPECT_EQ(PayloadOf(client->Call(backend)), backend);
    EXPECT_THAT(server.Log(), HasSubstr(" io=" + backend + " "));
    EXPECT_THAT(server.Log(), Not(HasSubstr("cannot be set up")));
  }
}

TEST(IoBackendTest, UnknownBackendExitsTwoNamingTheFlag) {
  const auto [status, output] = RunCommand(RunfilePath("server/server") + " --io=kqueue --port=0");
  EXPECT_EQ(status, 2) << output;
  EXPECT_THAT(output, HasSubstr("--io"));
  EXPECT_THAT(output, HasSubstr("'kqueue' is not an I/O backend: use epoll or io_uring"));
}

}  // namespace
}  // namespace tests
