// The handler kit's conformance test (handler_test_suite.bzl): a server carrying only the
// handler under test, run as a process on loopback, against what every handler owes a client.
//
//   - Pipelined requests are answered in order: the replies to `requests` sent at once are the
//     replies to the same requests sent one at a time (on a fresh server each), or with
//     --kit_deterministic=false (a handler whose answers change by themselves, like stats),
//     one reply each, none an error.
//   - A request the handler fails (`error_request`) gets an error reply, and the connection
//     stays open and goes on serving.
//   - A drain writes every owed reply: requests received before SIGTERM are all answered, and
//     the server exits 0.
//
// Each wait is bounded (a request left unanswered fails the test, not hangs it).
#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "gflags/gflags.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

DEFINE_string(kit_server, "", "runfiles path of the server carrying the handler under test");
DEFINE_string(kit_requests_file, "", "runfiles path of the requests, one per line");
DEFINE_string(kit_error_request, "", "a request the handler answers with an error");
DEFINE_string(kit_server_flags, "",
              "the handler's own flags, space-separated; {tmp} becomes a fresh directory");
DEFINE_bool(kit_deterministic, true,
            "the handler answers the same requests the same way on a fresh server");

namespace tests {
namespace {

constexpr absl::Duration kReplyTimeout = absl::Seconds(10);

std::vector<std::string> Requests() {
  std::ifstream in(RunfilePath(FLAGS_kit_requests_file));
  std::vector<std::string> requests;
  for (std::string line; std::getline(in, line);) requests.push_back(line);
  return requests;
}

// A fresh server of the handler under test.
ServerProcess StartServer() {
  std::vector<std::string> flags = {"--workers=1"};
  std::string tmp = absl::StrCat(getenv("TEST_TMPDIR"), "/kit.XXXXXX");
  EXPECT_NE(mkdtemp(tmp.data()), nullptr);
  for (absl::string_view flag : absl::StrSplit(FLAGS_kit_server_flags, ' ', absl::SkipEmpty())) {
    flags.push_back(absl::StrReplaceAll(flag, {{"{tmp}", tmp}}));
  }
  return ServerProcess::Start(flags, FLAGS_kit_server).value();
}

// `n` replies read from `c`, or as many as came within the timeout each.
std::vector<absl::StatusOr<client::Client::Reply>> Receive(client::Client& c, size_t n) {
  std::vector<absl::StatusOr<client::Client::Reply>> replies;
  for (size_t i = 0; i < n; ++i) {
    replies.push_back(c.Receive());
    if (!replies.back().ok()) break;
  }
  return replies;
}

std::string Describe(const absl::StatusOr<client::Client::Reply>& reply) {
  if (!reply.ok()) return absl::StrCat("<no reply: ", reply.status().ToString(), ">");
  return absl::StrCat(reply->is_error ? "error " : "", reply->payload);
}

TEST(HandlerConformanceTest, PipelinedRequestsAreAnsweredInOrder) {
  const std::vector<std::string> requests = Requests();
  ASSERT_FALSE(requests.empty()) << "handler_test_suite needs requests";
  std::vector<std::string> one_by_one;
  {
    ServerProcess server = StartServer();
    auto c = ConnectTo(server.port(), "127.0.0.1", kReplyTimeout);
    ASSERT_NE(c, nullptr);
    for (const std::string& request : requests) one_by_one.push_back(Describe(c->Call(request)));
  }
  ServerProcess server = StartServer();
  auto c = ConnectTo(server.port(), "127.0.0.1", kReplyTimeout);
  ASSERT_NE(c, nullptr);
  std::string burst;
  for (const std::string& request : requests) burst += Frame(request);
  ASSERT_TRUE(c->SendRaw(burst).ok());
  const std::vector<absl::StatusOr<client::Client::Reply>> replies = Receive(*c, requests.size());
  ASSERT_EQ(replies.size(), requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(replies[i].ok()) << "request " << i << " (" << requests[i]
                                 << ") unanswered: " << replies[i].status();
    if (FLAGS_kit_deterministic) {
      EXPECT_EQ(Describe(replies[i]), one_by_one[i]) << "request " << i << ": " << requests[i];
    } else {
      EXPECT_FALSE(replies[i]->is_error) << "request " << i << ": " << Describe(replies[i]);
    }
  }
}

TEST(HandlerConformanceTest, AnErrorBecomesAnErrorReplyAndTheConnectionStaysOpen) {
  const std::vector<std::string> requests = Requests();
  ASSERT_FALSE(requests.empty());
  ServerProcess server = StartServer();
  auto c = ConnectTo(server.port(), "127.0.0.1", kReplyTimeout);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SendRaw(Frame(FLAGS_kit_error_request) + Frame(requests[0])).ok());
  const absl::StatusOr<client::Client::Reply> error = c->Receive();
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_TRUE(error->is_error) << "'" << FLAGS_kit_error_request << "' got " << Describe(error);
  const absl::StatusOr<client::Client::Reply> next = c->Receive();
  ASSERT_TRUE(next.ok()) << "the request after the error: " << next.status();
  const absl::StatusOr<client::Client::Reply> again = c->Call(requests[0]);
  EXPECT_TRUE(again.ok()) << "the connection did not go on: " << again.status();
  const auto stats = server.Stats().value();
  EXPECT_GE(stats.at("handler_errors"), 1);
  EXPECT_EQ(stats.at("connections_closed_protocol_error"), 0);
  EXPECT_EQ(stats.at("handler_misuse"), 0);
}

TEST(HandlerConformanceTest, ADrainWritesEveryOwedReply) {
  const std::vector<std::string> requests = Requests();
  ASSERT_FALSE(requests.empty());
  ServerProcess server = StartServer();
  auto c = ConnectTo(server.port(), "127.0.0.1", kReplyTimeout);
  ASSERT_NE(c, nullptr);
  constexpr int kRounds = 10;
  std::string burst;
  for (int round = 0; round < kRounds; ++round) {
    for (const std::string& request : requests) burst += Frame(request);
  }
  ASSERT_TRUE(c->SendRaw(burst).ok());
  const int64_t sent = kRounds * static_cast<int64_t>(requests.size());
  // Every request received (not necessarily answered) before the stop begins.
  // frames_in counts the stats queries too: each query sees those before it.
  int64_t received = -1, queries = 0;
  ASSERT_TRUE(WaitUntil([&] {
    auto stats = server.Stats();
    received = stats.ok() ? stats->at("frames_in") - queries : -1;
    ++queries;
    return received == sent;
  })) << received << " of " << sent << " requests received";
  server.Signal(SIGTERM);
  const std::vector<absl::StatusOr<client::Client::Reply>> replies = Receive(*c, sent);
  ASSERT_EQ(static_cast<int64_t>(replies.size()), sent);
  for (size_t i = 0; i < replies.size(); ++i) {
    ASSERT_TRUE(replies[i].ok()) << "reply " << i << " lost in the drain: " << replies[i].status();
  }
  EXPECT_EQ(server.Wait(), 0);
}

}  // namespace
}  // namespace tests

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  return RUN_ALL_TESTS();
}
