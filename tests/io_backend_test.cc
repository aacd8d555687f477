// --io: choosing the backend, and falling back to epoll where io_uring cannot be set up.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "common/uring.h"
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

// OK where this process can set up an io_uring, else why not (a container's seccomp profile,
// a kernel without it): the tests that need io_uring then skip, saying so. common/uring_test.cc
// skips on the same check (Uring::Create) with the same words.
absl::Status IoUringAvailable() { return common::Uring::Create().status(); }

TEST(IoBackendTest, IoUringRefusedBySeccompFallsBackToEpollWithOneLogLine) {
  constexpr int kClients = 4;
  ServerProcess server =
      ServerProcess::Start({"--io=io_uring", "--workers=2"}, "tests/without_io_uring").value();
  std::vector<std::unique_ptr<client::Client>> clients;  // held open, to be counted below
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(ConnectTo(server.port()));
    ASSERT_NE(clients.back(), nullptr);
    EXPECT_EQ(PayloadOf(clients.back()->Call(absl::StrCat("fallback ", i))),
              absl::StrCat("fallback ", i));
  }
  // Both workers serve: each holds some of the clients just answered (connections go to the
  // workers in turn: 2 each). The stats request is one more connection, on one of them, so a
  // worker holding 2 or more holds at least one client.
  const auto stats = server.Stats().value();
  for (const char* worker : {"0", "1"}) {
    EXPECT_GE(stats.at(absl::StrCat("worker_active_connections{worker=\"", worker, "\"}")), 2)
        << "worker " << worker << " may hold none of the " << kClients
        << " clients (the count includes the stats request's connection)";
  }
  const std::string log = server.Log();
  EXPECT_EQ(CountOf(log, "io_uring cannot be set up"), 1) << log;
  EXPECT_THAT(log, HasSubstr("io_uring_setup: Operation not permitted"));
  EXPECT_THAT(log, HasSubstr(" io=epoll "));
  clients.clear();
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

void ExpectServesAndSaysSo(const std::string& backend) {
  ServerProcess server = ServerProcess::Start({"--io=" + backend}).value();
  auto client = ConnectTo(server.port());
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(PayloadOf(client->Call(backend)), backend);
  EXPECT_THAT(server.Log(), HasSubstr(" io=" + backend + " "));
  EXPECT_THAT(server.Log(), Not(HasSubstr("cannot be set up")));
}

TEST(IoBackendTest, EpollSaysSoAtStartUp) { ExpectServesAndSaysSo("epoll"); }

TEST(IoBackendTest, IoUringSaysSoAtStartUp) {
  if (absl::Status available = IoUringAvailable(); !available.ok()) {
    GTEST_SKIP() << "io_uring unavailable here: " << available;
  }
  ExpectServesAndSaysSo("io_uring");
}

TEST(IoBackendTest, UnknownBackendExitsTwoNamingTheFlag) {
  const auto [status, output] = RunCommand(RunfilePath("server/server") + " --io=kqueue --port=0");
  EXPECT_EQ(status, 2) << output;
  EXPECT_THAT(output, HasSubstr("--io"));
  EXPECT_THAT(output, HasSubstr("'kqueue' is not an I/O backend: use epoll or io_uring"));
}

}  // namespace
}  // namespace tests
