// The server built by docs/writing-a-handler.md's last step (server_binary with the guide's
// rot13, resolve and shout, default_handler = "rot13"), taken from the guide's own code blocks:
// it serves rot13 without --handler, resolve on handler threads with its own flag and counter,
// shout through an upstream, and its --stats_port works although the guide never names the
// stats handler.
#include <signal.h>

#include "absl/strings/str_cat.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

constexpr char kGuideServer[] = "../handler_guide/my_server";

TEST(GuideE2eTest, ServesRot13WithoutHandlerFlag) {
  ServerProcess server = ServerProcess::Start({}, kGuideServer).value();
  EXPECT_EQ(CallOnce(server.port(), "abjurer"), "nowhere");
  EXPECT_EQ(CallOnce(server.port(), "Hello, World!"), "Uryyb, Jbeyq!");
  EXPECT_THAT(server.Log(), HasSubstr("handler=rot13"));
  // The stats listener (ServerProcess asks for one) answers, and counts the two requests.
  absl::StatusOr<std::map<std::string, int64_t>> stats = server.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->at("frames_in"), 2);
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

// Step 3: the server binary with rot13 on handlers.bzl's list serves it with --handler=rot13,
// and every handler it served before.
TEST(GuideE2eTest, Rot13AddedToTheServersListIsServedByName) {
  ServerProcess server =
      ServerProcess::Start({"--handler=rot13"}, "tests/server_with_guide_rot13").value();
  EXPECT_EQ(CallOnce(server.port(), "abjurer"), "nowhere");
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  ServerProcess echo =
      ServerProcess::Start({"--handler=echo"}, "tests/server_with_guide_rot13").value();
  EXPECT_EQ(CallOnce(echo.port(), "abjurer"), "abjurer");
  const auto [status, output] =
      RunCommand(RunfilePath("tests/server_with_guide_rot13") + " --help");
  EXPECT_EQ(status, 0);
  for (const char* handler :
       {"echo:", "uppercase:", "stats:", "reverse:", "sleep:", "kv:", "rot13:"}) {
    EXPECT_THAT(output, HasSubstr(handler));
  }
}

TEST(GuideE2eTest, HelpListsRot13AsTheDefault) {
  const auto [status, output] = RunCommand(RunfilePath(kGuideServer) + " --help");
  EXPECT_EQ(status, 0);
  EXPECT_THAT(output, HasSubstr("rot13: Returns each payload with ASCII letters rotated by 13."));
  EXPECT_THAT(output, HasSubstr("default: rot13"));
}

TEST(GuideE2eTest, ServesTheBlockingResolveHandlerWithItsFlagAndCounter) {
  ServerProcess server =
      ServerProcess::Start({"--handler=resolve", "--resolve_family=ipv4"}, kGuideServer).value();
  EXPECT_EQ(CallOnce(server.port(), "127.0.0.1"), "127.0.0.1");
  EXPECT_THAT(CallOnce(server.port(), "::1"), HasSubstr("NOT_FOUND")) << "ipv4 only";
  absl::StatusOr<std::map<std::string, int64_t>> stats = server.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->at("handler_resolve_lookups"), 2);
  EXPECT_EQ(stats->at("requests_answered_later"), 2);
}

// Step 6: shout in front of an uppercase server (the project's own), through its upstream.
TEST(GuideE2eTest, ServesShoutThroughAnUpstreamUppercaseServer) {
  ServerProcess uppercase = ServerProcess::Start({"--handler=uppercase", "--workers=1"}).value();
  ServerProcess server =
      ServerProcess::Start({"--handler=shout", absl::StrCat("--shout_backends=127.0.0.1:",
                                                           uppercase.port())},
                           kGuideServer)
          .value();
  EXPECT_EQ(CallOnce(server.port(), "hey"), "HEY!");
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  for (const char* word : {"one", "two", "three"}) ASSERT_TRUE(c->Send(word).ok());
  for (const char* loud : {"ONE!", "TWO!", "THREE!"}) EXPECT_EQ(PayloadOf(c->Receive()), loud);
  EXPECT_EQ((*uppercase.Stats())["requests_answered_later"], 0) << "uppercase answers at once";
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(GuideE2eTest, ABadHandlerFlagExitsTwoNamingIt) {
  const auto [status, output] = RunCommand(
      RunfilePath(kGuideServer) + " --handler=resolve --resolve_family=ipx --port=0");
  EXPECT_EQ(status, 2) << output;
  EXPECT_THAT(output, HasSubstr("--resolve_family must be any, ipv4 or ipv6"));
}

}  // namespace
}  // namespace tests
