// Handlers that answer later, against a real server: the blocking `sleep` handler on the handler
// threads, replies in request order, the in-flight bounds, the handler timeout, connections that
// close with answers still to come, and shutdown with calls in flight.
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

// True if `c` has bytes to read now (a reply arrived), without waiting.
bool HasReplyWaiting(client::Client& c) {
  pollfd p{c.fd(), POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

TEST(AsyncE2eTest, ASlowRequestDelaysNoOtherConnection) {
  ServerProcess server = ServerProcess::Start({"--handler=sleep", "--workers=1"}).value();
  auto slow = ConnectTo(server.port());
  ASSERT_NE(slow, nullptr);
  // Long enough to outlast the 50 connects and calls below and a stats poll on a loaded machine.
  ASSERT_TRUE(slow->Send("5000").ok());
  ASSERT_TRUE(WaitUntil([&] { return server.Stats()->at("frames_in") >= 1; }));

  std::vector<std::unique_ptr<client::Client>> others;
  for (int i = 0; i < 50; ++i) {
    others.push_back(ConnectTo(server.port()));
    ASSERT_NE(others.back(), nullptr);
  }
  absl::Duration slowest;
  for (auto& c : others) {
    const absl::Time start = absl::Now();
    EXPECT_EQ(PayloadOf(c->Call("0")), "0");
    slowest = std::max(slowest, absl::Now() - start);
  }
  // All 50 were answered while the slow request was still waiting on its handler thread.
  EXPECT_FALSE(HasReplyWaiting(*slow)) << "the 5000 ms sleep finished before the others";
  std::cout << "slowest of 50 quick requests: " << slowest << "\n";
  EXPECT_LT(slowest, absl::Milliseconds(1000));
  EXPECT_EQ(PayloadOf(slow->Receive()), "5000");
}

TEST(AsyncE2eTest, PipelinedRepliesKeepRequestOrder) {
  ServerProcess server = ServerProcess::Start({"--handler=sleep", "--workers=1"}).value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SendRaw(Frame("300") + Frame("0") + Frame("bad") + Frame("100")).ok());
  EXPECT_EQ(PayloadOf(c->Receive()), "300");
  EXPECT_EQ(PayloadOf(c->Receive()), "0");
  absl::StatusOr<client::Client::Reply> error = c->Receive();
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_TRUE(error->is_error);
  EXPECT_THAT(error->payload, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_EQ(PayloadOf(c->Receive()), "100");
  // "bad" was refused on the loop; the three sleeps were offloaded, one after another.
  EXPECT_EQ(server.Stats()->at("requests_answered_later"), 3);
  EXPECT_EQ(server.Stats()->at("handler_sleep_sleeps"), 3);
}

TEST(AsyncE2eTest, InflightBoundPausesReadingAndEveryRequestIsAnswered) {
  ServerProcess server =
      ServerProcess::Start({"--handler=sleep", "--max_inflight_per_connection=2"}).value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  std::string burst;
  for (int i = 0; i < 10; ++i) burst += Frame("20");
  ASSERT_TRUE(c->SendRaw(burst).ok());
  for (int i = 0; i < 10; ++i) ASSERT_EQ(PayloadOf(c->Receive()), "20") << i;
  EXPECT_GE(server.Stats()->at("reads_paused_backpressure"), 1);
}

// A connection has one call offloaded at a time, so the server-wide bound is reached by
// several connections: two calls hold the two places, and a third connection's is refused.
TEST(AsyncE2eTest, FullHandlerQueueAnswersOverloadedAtOnce) {
  ServerProcess server = ServerProcess::Start(
      {"--handler=sleep", "--handler_threads=1", "--max_queued_requests=2"}).value();
  std::vector<std::unique_ptr<client::Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(ConnectTo(server.port()));
    ASSERT_NE(clients.back(), nullptr);
  }
  for (int i = 0; i < 2; ++i) {
    // Both still hold their places when the third call comes, however slow the machine.
    ASSERT_TRUE(clients[i]->SendRaw(Frame("3000")).ok());
    ASSERT_TRUE(WaitUntil([&] { return server.Stats()->at("requests_answered_later") == i + 1; }));
  }
  absl::StatusOr<client::Client::Reply> overloaded = clients[2]->Call("0");
  ASSERT_TRUE(overloaded.ok()) << overloaded.status();
  EXPECT_TRUE(overloaded->is_error);
  EXPECT_THAT(overloaded->payload, HasSubstr("RESOURCE_EXHAUSTED: server overloaded"));
  EXPECT_EQ(server.Stats()->at("requests_rejected_overload"), 1);
  EXPECT_EQ(PayloadOf(clients[0]->Receive()), "3000");
  EXPECT_EQ(PayloadOf(clients[1]->Receive()), "3000");
  EXPECT_EQ(server.Stats()->at("requests_answered_later"), 2) << "two offloaded, one refused";
  EXPECT_EQ(PayloadOf(clients[2]->Call("0")), "0") << "the connection goes on";
}

TEST(AsyncE2eTest, HandlerTimeoutAnswersDeadlineExceededAndTheConnectionGoesOn) {
  ServerProcess server =
      ServerProcess::Start({"--handler=sleep", "--handler_timeout_ms=200"}).value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  const absl::Time start = absl::Now();
  // The call sleeps far longer than the timeout, so that the bound below tells the timeout's
  // answer from the call's own however slow the machine.
  absl::StatusOr<client::Client::Reply> reply = c->Call("3000");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(reply->is_error);
  EXPECT_THAT(reply->payload, HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << "the timeout did not answer first";
  // The 3000 ms call still runs; its late answer is discarded and counted, never sent.
  EXPECT_TRUE(WaitUntil([&] { return server.Stats()->at("replies_discarded") == 1; }));
  EXPECT_FALSE(HasReplyWaiting(*c)) << "a discarded answer reached the client";
  // The connection goes on (its calls run one at a time: this one after the late call).
  EXPECT_EQ(PayloadOf(c->Call("10")), "10");
  EXPECT_EQ(server.Stats()->at("requests_timed_out"), 1);
}

TEST(AsyncE2eTest, ClientThatClosesWithRequestsInFlightLeavesNothingBehind) {
  ServerProcess server = ServerProcess::Start(
      {"--handler=sleep", "--workers=2", "--max_inflight_per_connection=100"}).value();
  const int baseline_fds = server.OpenFds();
  for (int round = 0; round < 20; ++round) {
    auto c = ConnectTo(server.port());
    ASSERT_NE(c, nullptr);
    std::string burst;
    for (int i = 0; i < 100; ++i) burst += Frame(absl::StrCat(i % 7));
    ASSERT_TRUE(c->SendRaw(burst).ok());
    // Closed at once, most answers still to come: they race with the close.
  }
  // Every connection gone, and every request it got answered or its answer discarded (the
  // requests still unread or unhandled when a connection closed are not run at all).
  ASSERT_TRUE(WaitUntil([&] {
    auto stats = server.Stats();
    return stats.ok() && stats->at("connections_active") == 1 &&
           stats->at("frames_in") == stats->at("frames_out") + stats->at("replies_discarded");
  }, absl::Seconds(30)));
  const auto stats = server.Stats().value();
  EXPECT_GT(stats.at("handler_sleep_sleeps"), 0);
  EXPECT_LE(stats.at("handler_sleep_sleeps"), 2000);
  EXPECT_TRUE(WaitUntil([&] { return server.OpenFds() == baseline_fds; }));
  EXPECT_EQ(CallOnce(server.port(), "1"), "1");
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(AsyncE2eTest, SigtermAnswersCallsInFlightThatFinishWithinTheGrace) {
  ServerProcess server =
      ServerProcess::Start({"--handler=sleep", "--shutdown_grace_ms=5000"}).value();
  std::vector<std::unique_ptr<client::Client>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(ConnectTo(server.port()));
    ASSERT_NE(clients.back(), nullptr);
    ASSERT_TRUE(clients.back()->Send(absl::StrCat(200 + 20 * i)).ok());
  }
  ASSERT_TRUE(WaitUntil([&] { return server.Stats()->at("requests_answered_later") == 20; }));
  server.Signal(SIGTERM);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(PayloadOf(clients[i]->Receive()), absl::StrCat(200 + 20 * i));
    EXPECT_TRUE(ClosedByServer(*clients[i]));
  }
  EXPECT_EQ(server.Wait(), 0);
}

TEST(AsyncE2eTest, GraceDeadlineAnswersCallsStillRunningWithAnError) {
  ServerProcess server =
      ServerProcess::Start({"--handler=sleep", "--shutdown_grace_ms=200"}).value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send("5000").ok());
  ASSERT_TRUE(WaitUntil([&] { return server.Stats()->at("requests_answered_later") == 1; }));
  const absl::Time start = absl::Now();
  server.Signal(SIGTERM);
  absl::StatusOr<client::Client::Reply> reply = c->Receive();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(reply->is_error);
  EXPECT_THAT(reply->payload, HasSubstr("UNAVAILABLE: server shutting down"));
  EXPECT_TRUE(ClosedByServer(*c));
  EXPECT_EQ(server.Wait(), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4)) << "shutdown waited for the 5 s sleep";
}

// Deferred answers (Reply::Defer) completed from other threads, mixed with inline ones.
TEST(AsyncE2eTest, DeferredAndInlineRepliesLeaveInRequestOrder) {
  ServerProcess server = ServerProcess::Start({"--handler=later"}, "tests/test_server").value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SendRaw(Frame("defer:200:a") + Frame("now:b") + Frame("defer:0:c") +
                         Frame("fail-later:50") + Frame("now:e")).ok());
  EXPECT_EQ(PayloadOf(c->Receive()), "a");
  EXPECT_EQ(PayloadOf(c->Receive()), "b");
  EXPECT_EQ(PayloadOf(c->Receive()), "c");
  absl::StatusOr<client::Client::Reply> failed = c->Receive();
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_TRUE(failed->is_error);
  EXPECT_EQ(failed->payload, "INVALID_ARGUMENT: failed later");
  EXPECT_EQ(PayloadOf(c->Receive()), "e");
  const auto stats = server.Stats().value();
  EXPECT_EQ(stats.at("frames_in"), 5);
  EXPECT_EQ(stats.at("frames_out"), 5);
  EXPECT_EQ(stats.at("handler_errors"), 1);
}

// requests_answered_later counts what its name says: a deferred request adds one; an inline
// answer, an inline error and a reply held behind a waiting one add nothing. (Offloaded calls
// and an overload refusal: FullHandlerQueueAnswersOverloadedAtOnce.) It was once derived as
// frames - replies - errors, and went down on errors.
TEST(AsyncE2eTest, AnsweredLaterCountsOnlyDeferredRequests) {
  ServerProcess server = ServerProcess::Start({"--handler=later"}, "tests/test_server").value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  auto answered_later = [&] { return server.Stats()->at("requests_answered_later"); };
  EXPECT_EQ(PayloadOf(c->Call("now:a")), "a");
  EXPECT_TRUE(IsErrorReply(c->Call("unknown")));
  EXPECT_EQ(PayloadOf(c->Call("now:e")), "e");
  EXPECT_EQ(answered_later(), 0) << "inline answers and inline errors";
  EXPECT_EQ(PayloadOf(c->Call("defer:0:b")), "b");
  EXPECT_EQ(answered_later(), 1) << "one deferred answer";
  // Held in order behind a deferred one: answered inline all the same.
  ASSERT_TRUE(c->SendRaw(Frame("defer:50:c") + Frame("now:d") + Frame("unknown")).ok());
  EXPECT_EQ(PayloadOf(c->Receive()), "c");
  EXPECT_EQ(PayloadOf(c->Receive()), "d");
  EXPECT_TRUE(IsErrorReply(c->Receive()));
  EXPECT_EQ(answered_later(), 2);
}

// A misuse (handlers/handler.h): a debug build stops, naming it; a release build answers
// INTERNAL, counts it, and goes on.
TEST(AsyncE2eTest, ACompletionDroppedUnfinishedStopsADebugBuildOrAnswersInternal) {
  ServerProcess server =
      ServerProcess::Start({"--handler=later", "--later_misuse"}, "tests/test_server").value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  absl::StatusOr<client::Client::Reply> reply = c->Call("drop");
#ifdef NDEBUG
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(reply->is_error);
  EXPECT_THAT(reply->payload, HasSubstr("INTERNAL: the handler dropped the request"));
  EXPECT_EQ(PayloadOf(c->Call("now:still open")), "still open");
  EXPECT_TRUE(WaitUntil([&] { return server.Stats()->at("handler_misuse") == 1; }));
#else
  EXPECT_EQ(server.Wait(), 128 + SIGABRT);
  EXPECT_THAT(server.Log(), HasSubstr("handler misuse: a Completion destroyed unfinished"));
#endif
}

TEST(AsyncE2eTest, AHandlerCanCloseTheConnectionAfterItsReply) {
  ServerProcess server = ServerProcess::Start({"--handler=later"}, "tests/test_server").value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SendRaw(Frame("defer:50:first") + Frame("close:bye") + Frame("now:never")).ok());
  EXPECT_EQ(PayloadOf(c->Receive()), "first");
  EXPECT_EQ(PayloadOf(c->Receive()), "bye");
  EXPECT_TRUE(ClosedByServer(*c)) << "the request after close:bye was answered";
}

// Completions from other threads race with connections closing: nothing may touch a freed
// connection (ASan and TSan run this too).
TEST(AsyncE2eTest, DeferredAnswersRacingWithClosesAreDiscardedSafely) {
  ServerProcess server =
      ServerProcess::Start({"--handler=later", "--workers=2"}, "tests/test_server").value();
  for (int round = 0; round < 200; ++round) {
    auto c = ConnectTo(server.port());
    ASSERT_NE(c, nullptr);
    std::string burst;
    for (int i = 0; i < 10; ++i) burst += Frame(absl::StrCat("defer:", i % 3, ":x"));
    ASSERT_TRUE(c->SendRaw(burst).ok());
  }  // each connection closes with its answers in flight
  std::map<std::string, int64_t> stats;
  const bool settled = WaitUntil([&] {
    absl::StatusOr<std::map<std::string, int64_t>> now = server.Stats();
    if (now.ok()) stats = *now;
    return now.ok() && stats.at("connections_active") == 1 &&
           stats.at("frames_out") + stats.at("replies_discarded") == stats.at("frames_in");
  });
  ASSERT_TRUE(settled) << "active " << stats["connections_active"] << ", in "
                       << stats["frames_in"] << ", out " << stats["frames_out"] << ", discarded "
                       << stats["replies_discarded"];
  EXPECT_EQ(CallOnce(server.port(), "defer:1:alive"), "alive");
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(AsyncE2eTest, HandlerFlagWithABadValueExitsTwoNamingIt) {
  const auto [status, output] =
      RunCommand(RunfilePath("server/server") + " --handler=sleep --sleep_max_ms=20000 --port=0");
  EXPECT_EQ(status, 2) << output;
  EXPECT_THAT(output, HasSubstr("server: --sleep_max_ms must be in 0..10000"));
}

}  // namespace
}  // namespace tests
