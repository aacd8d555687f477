// Handlers through a running server: error replies, live stats under echo traffic, the shipped
// reverse handler, and stats as the main handler. (The guide's own handler, rot13, is served by
// the guide's server in tests/guide_e2e_test.cc.)
#include <signal.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(HandlersE2eTest, FailingHandlerGivesAnErrorReplyAndTheConnectionGoesOn) {
  ServerProcess server =
      ServerProcess::Start({"--handler=failing", "--max_frame_bytes=4000"}, "tests/test_server")
          .value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);

  absl::StatusOr<client::Client::Reply> failed = c->Call("fail:bad request");
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_TRUE(failed->is_error);
  EXPECT_EQ(failed->payload, "INVALID_ARGUMENT: bad request");  // the partial reply is gone

  absl::StatusOr<client::Client::Reply> threw = c->Call("throw:boom");
  ASSERT_TRUE(threw.ok()) << threw.status();
  EXPECT_TRUE(threw->is_error);
  EXPECT_EQ(threw->payload, "INTERNAL: handler threw: boom");

  absl::StatusOr<client::Client::Reply> too_big = c->Call("big:5000");
  ASSERT_TRUE(too_big.ok()) << too_big.status();
  EXPECT_TRUE(too_big->is_error);
  EXPECT_THAT(too_big->payload, StartsWith("RESOURCE_EXHAUSTED: reply of 5000 bytes exceeds"));

  absl::StatusOr<client::Client::Reply> fine = c->Call("still usable");
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_FALSE(fine->is_error);
  EXPECT_EQ(fine->payload, "still usable");
  EXPECT_EQ(PayloadOf(c->Call("big:4000")), std::string(4000, 'b'));  // exactly the limit is fine

  const auto stats = server.Stats().value();
  EXPECT_EQ(stats.at("handler_errors"), 3);
  EXPECT_EQ(stats.at("connections_closed_protocol_error"), 0);
}

TEST(HandlersE2eTest, ErrorRepliesKeepTheirPlaceInAPipeline) {
  ServerProcess server =
      ServerProcess::Start({"--handler=failing"}, "tests/test_server").value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SendRaw(Frame("one") + Frame("fail:two") + Frame("three")).ok());
  EXPECT_EQ(PayloadOf(c->Receive()), "one");
  EXPECT_TRUE(c->Receive()->is_error);
  EXPECT_EQ(PayloadOf(c->Receive()), "three");
}

TEST(HandlersE2eTest, StatsMoveByExactlyTheTrafficServed) {
  ServerProcess server = ServerProcess::Start({"--handler=echo", "--workers=2"}).value();
  const std::map<std::string, int64_t> before = server.Stats().value();

  constexpr int kConnections = 3, kFrames = 1000;
  std::vector<std::thread> clients;
  for (int i = 0; i < kConnections; ++i) {
    clients.emplace_back([&] {
      auto c = ConnectTo(server.port());
      ASSERT_NE(c, nullptr);
      for (int f = 0; f < kFrames; ++f) ASSERT_EQ(PayloadOf(c->Call("0123456789")), "0123456789");
    });
  }
  for (std::thread& t : clients) t.join();
  // Each Stats() call is a connection of its own; wait for a snapshot in which only the asking
  // connection is open, and use that very snapshot.
  std::map<std::string, int64_t> after;
  ASSERT_TRUE(WaitUntil([&] {
    after = server.Stats().value();
    return after.at("connections_active") == 1;
  }));

  auto delta = [&](const std::string& name) { return after.at(name) - before.at(name); };
  // The echo frames, plus the stats requests made since `before` (each counted once served).
  const int64_t stats_requests = delta("frames_in") - kConnections * kFrames;
  EXPECT_GE(stats_requests, 1);
  EXPECT_EQ(delta("frames_out"), delta("frames_in"));
  EXPECT_EQ(delta("bytes_in"), kConnections * kFrames * 14 + stats_requests * 4);
  EXPECT_GE(delta("bytes_out"), kConnections * kFrames * 14);
  EXPECT_EQ(delta("connections_accepted"), kConnections + stats_requests);
  EXPECT_EQ(delta("handler_errors"), 0);
  EXPECT_GE(after.at("latency_window_frames"), kConnections * kFrames);
  EXPECT_GT(after.at("latency_max_us"), 0);
  EXPECT_LE(after.at("latency_p50_us"), after.at("latency_p99_us"));
  EXPECT_LE(after.at("latency_p99_us"), after.at("latency_max_us"));
  EXPECT_EQ(after.at("workers"), 2);
  EXPECT_EQ(after.at("worker_active_connections{worker=\"0\"}") +
                after.at("worker_active_connections{worker=\"1\"}"),
            1);  // the stats connection itself
}

TEST(HandlersE2eTest, StatsAreReadableWhileEchoTrafficFlows) {
  ServerProcess server = ServerProcess::Start({"--handler=echo"}).value();
  std::atomic<bool> done{false};
  std::thread traffic([&] {
    auto c = ConnectTo(server.port());
    ASSERT_NE(c, nullptr);
    while (!done) ASSERT_EQ(PayloadOf(c->Call("flowing")), "flowing");
  });
  int64_t previous = -1;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(WaitUntil([&] { return server.Stats()->at("frames_in") > previous; }));
    previous = server.Stats()->at("frames_in");
  }
  done = true;
  traffic.join();
  EXPECT_GT(previous, 0);
}

// The shipped reverse handler (handlers/reverse), through the server: whole frames of any
// bytes, the empty one included, pipelined on one connection.
TEST(HandlersE2eTest, ReverseHandlerServesThroughTheServer) {
  ServerProcess server = ServerProcess::Start({"--handler=reverse"}).value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  const std::string binary("\x01\x00\xff", 3);
  ASSERT_TRUE(c->SendRaw(Frame("stressed") + Frame("") + Frame(binary)).ok());
  EXPECT_EQ(PayloadOf(c->Receive()), "desserts");
  EXPECT_EQ(PayloadOf(c->Receive()), "");
  EXPECT_EQ(PayloadOf(c->Receive()), std::string("\xff\x00\x01", 3));
}

TEST(HandlersE2eTest, StatsHandlerCanBeTheMainHandler) {
  ServerProcess server = ServerProcess::Start({"--handler=stats"}).value();
  absl::StatusOr<client::Client::Reply> reply = ConnectTo(server.port())->Call("");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(reply->payload, HasSubstr("\nconnections_active "));
}

}  // namespace
}  // namespace tests
