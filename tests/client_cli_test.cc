// The client binary as a user runs it: one-shot, stdin, bench, and each exit code.
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "common/testing/loopback.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

std::string ClientCommand(int port, const std::string& args) {
  return absl::StrCat(RunfilePath("client/client"), " --port=", port, " ", args);
}

TEST(ClientCliTest, OneShotPrintsEachReplyOnItsOwnLine) {
  ServerProcess server = ServerProcess::Start({"--handler=uppercase"}).value();
  const auto [status, output] = RunCommand(ClientCommand(server.port(), "hello 'two words' ''"));
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "HELLO\nTWO WORDS\n\n");
}

TEST(ClientCliTest, NonAsciiPayloadSurvivesTheRoundTrip) {
  ServerProcess server = ServerProcess::Start({"--handler=uppercase"}).value();
  const auto [status, output] = RunCommand(ClientCommand(server.port(), "'caf\xc3\xa9 \xe2\x82\xac'"));
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "CAF\xc3\xa9 \xe2\x82\xac\n");
}

TEST(ClientCliTest, StdinLinesAreFrames) {
  ServerProcess server = ServerProcess::Start({"--handler=echo"}).value();
  const auto [status, output] =
      RunCommand("printf 'first line\\n\\nthird\\n' | " + ClientCommand(server.port(), ""));
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "first line\n\nthird\n");
}

TEST(ClientCliTest, ErrorReplyGoesToStderrAndExitsOne) {
  ServerProcess server =
      ServerProcess::Start({"--handler=failing"}, "tests/test_server").value();
  const auto [status, output] =
      RunCommand("(" + ClientCommand(server.port(), "ok fail:nope after") + " 2>/dev/null)");
  EXPECT_EQ(status, 1);
  EXPECT_EQ(output, "ok\nafter\n");  // stdout only: the error went to stderr
  const auto [status2, errors] =
      RunCommand("(" + ClientCommand(server.port(), "fail:nope") + " >/dev/null)");
  EXPECT_EQ(status2, 1);
  EXPECT_THAT(errors, HasSubstr("error reply: INVALID_ARGUMENT: nope"));
}

TEST(ClientCliTest, BenchWithVerifyReportsLatencyAndSucceeds) {
  ServerProcess server = ServerProcess::Start({"--handler=uppercase"}).value();
  const auto [status, output] = RunCommand(ClientCommand(
      server.port(),
      "--bench --connections=4 --pipeline=8 --requests=4000 --threads=2 --verify=uppercase"));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("requests     4000 in"));
  EXPECT_THAT(output, HasSubstr("p99.9"));
  EXPECT_THAT(output, HasSubstr("errors       0\nmismatches   0"));
  EXPECT_EQ(server.Stats()->at("frames_in"), 4000);
}

TEST(ClientCliTest, BenchCountsMismatchesAndExitsOne) {
  ServerProcess server = ServerProcess::Start({"--handler=echo"}).value();
  const auto [status, output] = RunCommand(ClientCommand(
      server.port(), "--bench --connections=2 --requests=100 --verify=uppercase --json"));
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("\"requests\":100,\"errors\":0,\"mismatches\":100"));
}

TEST(ClientCliTest, BenchSendsAGivenRequest) {
  ServerProcess server = ServerProcess::Start({"--handler=uppercase"}).value();
  const auto [status, output] = RunCommand(ClientCommand(
      server.port(), "--bench --connections=2 --requests=100 --request='get key' --json"));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("\"requests\":100,\"errors\":0"));
  // 100 frames of the 7 bytes of "get key"; the stats request itself is 4 more.
  EXPECT_EQ(server.Stats()->at("bytes_in"), 100 * (4 + 7) + 4);
}

TEST(ClientCliTest, BenchRunsForADuration) {
  ServerProcess server = ServerProcess::Start({"--handler=echo"}).value();
  const auto [status, output] = RunCommand(ClientCommand(
      server.port(), "--bench --connections=2 --duration_s=0.5 --verify=echo --json"));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("\"errors\":0,\"mismatches\":0"));
}

TEST(ClientCliTest, BenchRateLimitsTheLoad) {
  ServerProcess server = ServerProcess::Start({"--handler=echo"}).value();
  // 200 requests at 400/s take about half a second, however fast the server is.
  const absl::Time start = absl::Now();
  const auto [status, output] = RunCommand(ClientCommand(
      server.port(), "--bench --connections=4 --requests=200 --rate=400 --verify=echo --json"));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("\"requests\":200,\"errors\":0"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(400));
}

TEST(ClientCliTest, RefusedConnectionExitsOneNamingTheAddress) {
  int port;
  {
    ServerProcess server = ServerProcess::Start({}).value();
    port = server.port();
  }  // stopped: nothing listens there now
  const auto [status, output] = RunCommand(ClientCommand(port, "hello"));
  EXPECT_EQ(status, 1);
  EXPECT_THAT(output, HasSubstr(absl::StrCat("cannot connect to 127.0.0.1:", port,
                                             ": Connection refused")));
}

TEST(ClientCliTest, ServerClosingMidReplyExitsOne) {
  // A fake server that answers with half a frame and hangs up.
  int port;
  const int listener = common::testing::ListenOnLoopback(&port, /*backlog=*/1);
  ASSERT_GE(listener, 0);
  std::thread fake([listener] {
    const int fd = accept(listener, nullptr, nullptr);
    char request[64];
    (void)!read(fd, request, sizeof(request));
    const std::string half = Header(10) + "half";
    (void)!write(fd, half.data(), half.size());
    close(fd);
  });
  const auto [status, output] = RunCommand(ClientCommand(port, "hello"));
  fake.join();
  close(listener);
  EXPECT_EQ(status, 1);
  EXPECT_THAT(output, HasSubstr("closed the connection in the middle of a reply"));
}

TEST(ClientCliTest, UsageErrorsExitTwo) {
  for (const std::string& args : {"--bogus", "--port=abc", "--bench --pipeline=0",
                                   "--bench --verify=maybe", "--bench extra"}) {
    const auto [status, output] = RunCommand(ClientCommand(1, args));
    EXPECT_EQ(status, 2) << args << ": " << output;
    EXPECT_THAT(output, HasSubstr("Try --help.")) << args;
  }
}

}  // namespace
}  // namespace tests
