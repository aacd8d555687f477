// Each limit of the server (README, docs/operations.md), against a real server: the offending
// connection is closed or paused, the right counter moves, and another client is served
// meanwhile.
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
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

// Another client is answered: the server is not stalled by whatever the test is doing.
void ExpectServed(int port) {
  auto probe = ConnectTo(port, "127.0.0.1", absl::Seconds(5));
  ASSERT_NE(probe, nullptr);
  absl::StatusOr<client::Client::Reply> reply = probe->Call("probe");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->payload, "probe");
}

TEST(LimitsTest, OversizeLengthClosesOnlyThatConnection) {
  ServerProcess server = ServerProcess::Start({"--max_frame_bytes=1024", "--workers=1"}).value();
  auto good = ConnectTo(server.port());
  ASSERT_NE(good, nullptr);
  auto bad = ConnectTo(server.port());
  ASSERT_NE(bad, nullptr);
  ASSERT_TRUE(good->Send(std::string(1024, 'a')).ok());  // exactly the limit: fine
  EXPECT_EQ(PayloadOf(good->Receive()).size(), 1024u);

  ASSERT_TRUE(bad->SendRaw(Header(1025)).ok());  // one over: closed, on the header alone
  EXPECT_TRUE(ClosedByServer(*bad));

  EXPECT_EQ(PayloadOf(good->Call("still here")), "still here");
  ExpectServed(server.port());
  EXPECT_EQ(server.Stats()->at("connections_closed_protocol_error"), 1);
  EXPECT_THAT(server.Log(), HasSubstr("frame length 1025 exceeds the limit of 1024 bytes"));
}

TEST(LimitsTest, FramesBeforeABadHeaderAreAnsweredBeforeTheClose) {
  ServerProcess server = ServerProcess::Start({"--max_frame_bytes=1024"}).value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SendRaw(Frame("ok") + Frame("fine") + Header(5000) + "junk").ok());  // one write
  EXPECT_EQ(PayloadOf(c->Receive()), "ok");
  EXPECT_EQ(PayloadOf(c->Receive()), "fine");
  EXPECT_TRUE(ClosedByServer(*c));
  EXPECT_EQ(server.Stats()->at("connections_closed_protocol_error"), 1);
}

TEST(LimitsTest, DeclaredLengthDoesNotReserveMemory) {
  ServerProcess server = ServerProcess::Start({"--workers=1"}).value();
  ExpectServed(server.port());
  const int64_t rss_before = server.RssKb();
  std::vector<std::unique_ptr<client::Client>> clients;
  for (int i = 0; i < 200; ++i) {  // each declares 16 MiB (the limit) and sends one byte
    clients.push_back(ConnectTo(server.port()));
    ASSERT_TRUE(clients.back()->SendRaw(Header(16u << 20) + "x").ok());
  }
  ExpectServed(server.port());
  ASSERT_TRUE(WaitUntil([&] { return server.Stats()->at("bytes_in") >= 200 * 5; }));
  // 200 x 16 MiB would be 3.2 GiB; what arrived is 1 KB. Allow generous allocator slack.
  EXPECT_LT(server.RssKb() - rss_before, 8 * 1024) << "RSS grew with declared lengths";
}

TEST(LimitsTest, IncompleteFrameTimesOut) {
  constexpr auto kFrameTimeout = std::chrono::milliseconds(300);
  // The upper bound is the frame timeout plus generous slack for a slow (sanitized) server (the
  // timer itself fires to the millisecond: it is a loop wait's deadline). The idle timeout lies
  // beyond that bound, so a frame timeout not enforced, or enforced only as the idle one, fails.
  constexpr auto kSlack = std::chrono::seconds(2);
  constexpr auto kIdleTimeout = std::chrono::seconds(10);
  static_assert(kFrameTimeout + kSlack < kIdleTimeout);
  ServerProcess server =
      ServerProcess::Start({absl::StrCat("--frame_timeout_ms=", kFrameTimeout.count()),
                            absl::StrCat("--idle_timeout_ms=",
                                         std::chrono::milliseconds(kIdleTimeout).count())})
          .value();
  auto slow = ConnectTo(server.port());
  ASSERT_NE(slow, nullptr);
  // Timed from before the send: the server's timer starts when it reads the bytes, later, so
  // the close cannot be seen before kFrameTimeout has passed on this clock.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(slow->SendRaw(Header(10) + "half").ok());
  ExpectServed(server.port());
  EXPECT_TRUE(ClosedByServer(*slow));
  const int64_t elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - start)
                                 .count();
  EXPECT_GE(elapsed_ms, kFrameTimeout.count()) << "closed before the frame timeout";
  EXPECT_LT(elapsed_ms, std::chrono::milliseconds(kFrameTimeout + kSlack).count())
      << "the frame timeout was not enforced";
  EXPECT_EQ(server.Stats()->at("connections_closed_frame_timeout"), 1);
  EXPECT_EQ(server.Stats()->at("connections_closed_idle_timeout"), 0);
}

TEST(LimitsTest, SlowlorisTricklingBytesStillTimesOut) {
  ServerProcess server = ServerProcess::Start({"--frame_timeout_ms=400"}).value();
  auto slow = ConnectTo(server.port());
  ASSERT_NE(slow, nullptr);
  const std::string frame = Frame(std::string(100, 's'));
  bool closed = false;
  for (size_t i = 0; i < frame.size() && !closed; ++i) {  // a byte every 50 ms: 5 s in all
    closed = !slow->SendRaw(frame.substr(i, 1)).ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    closed = closed || server.Stats()->at("connections_closed_frame_timeout") == 1;
  }
  EXPECT_TRUE(closed) << "a frame trickling in over 5 s outlived a 400 ms frame timeout";
  EXPECT_TRUE(ClosedByServer(*slow));
}

TEST(LimitsTest, IdleConnectionTimesOutButActiveOneDoesNot) {
  // The timeout is well above the active client's 100 ms between calls, so that only a stall
  // of the test of more than a second, not a scheduling hiccup, would let it expire.
  ServerProcess server = ServerProcess::Start({"--idle_timeout_ms=1500"}).value();
  auto idle = ConnectTo(server.port());
  ASSERT_NE(idle, nullptr);
  auto active = ConnectTo(server.port());
  ASSERT_NE(active, nullptr);
  for (int i = 0; i < 20; ++i) {  // 2 s of traffic every 100 ms: past the idle one's timeout
    ASSERT_EQ(PayloadOf(active->Call("ping")), "ping");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(ClosedByServer(*idle));
  EXPECT_EQ(PayloadOf(active->Call("still open")), "still open");
  EXPECT_EQ(server.Stats()->at("connections_closed_idle_timeout"), 1);
}

TEST(LimitsTest, ClientThatNeverReadsIsPausedAndMemoryStaysBounded) {
  ServerProcess server =
      ServerProcess::Start({"--max_pending_output_bytes=1048576", "--workers=1"}).value();
  ExpectServed(server.port());
  const int64_t rss_before = server.RssKb();
  auto hog = ConnectTo(server.port(), "127.0.0.1", absl::Seconds(2));
  ASSERT_NE(hog, nullptr);
  // 64 MiB of requests whose replies are never read: sending stalls once the server stops
  // reading, which is the point.
  const std::string frame = Frame(std::string(1 << 20, 'h'));
  int sent = 0;
  while (sent < 64 && hog->SendRaw(frame).ok()) ++sent;
  EXPECT_LT(sent, 64) << "the server kept reading from a client that does not read";

  ExpectServed(server.port());
  const auto stats = server.Stats().value();
  EXPECT_GE(stats.at("reads_paused_backpressure"), 1);
  EXPECT_GT(stats.at("pending_output_bytes_max"), 0);
  // Pending output stops at the limit plus at most one reply.
  EXPECT_LE(stats.at("pending_output_bytes_max"), 2 * (1 << 20) + 8);
  EXPECT_LT(server.RssKb() - rss_before, 32 * 1024);
}

TEST(LimitsTest, PausedClientGetsEveryReplyOnceItReads) {
  ServerProcess server = ServerProcess::Start({"--max_pending_output_bytes=65536"}).value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  std::string burst;
  for (int i = 0; i < 400; ++i) burst += Frame(std::string(4096, static_cast<char>('a' + i % 26)));
  std::thread writer([&] { ASSERT_TRUE(c->SendRaw(burst).ok()); });
  // Nothing is read until the server has stopped reading this client.
  ASSERT_TRUE(WaitUntil([&] { return server.Stats()->at("reads_paused_backpressure") >= 1; }));
  for (int i = 0; i < 400; ++i) {
    absl::StatusOr<client::Client::Reply> reply = c->Receive();
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->payload, std::string(4096, static_cast<char>('a' + i % 26))) << i;
  }
  writer.join();
}

TEST(LimitsTest, ConnectionLimitRefusesWithAnErrorReply) {
  ServerProcess server = ServerProcess::Start({"--max_connections=3"}).value();
  std::vector<std::unique_ptr<client::Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(ConnectTo(server.port()));
    ASSERT_EQ(PayloadOf(clients.back()->Call("in")), "in");
  }
  auto refused = ConnectTo(server.port());
  ASSERT_NE(refused, nullptr);
  absl::StatusOr<client::Client::Reply> reply = refused->Receive();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(reply->is_error);
  EXPECT_THAT(reply->payload, HasSubstr("RESOURCE_EXHAUSTED: server connection limit (3)"));
  EXPECT_TRUE(ClosedByServer(*refused));
  // The stats listener's connections count too: free a slot, then read the counters. Until
  // the server has seen that client close, a stats request is itself refused (and counted).
  clients.pop_back();
  std::map<std::string, int64_t> stats;
  int refused_probes = 0;
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<std::map<std::string, int64_t>> s = server.Stats();
    if (absl::IsResourceExhausted(s.status())) ++refused_probes;
    if (s.ok()) stats = *s;
    return s.ok();
  }));
  EXPECT_EQ(stats.at("connections_rejected_limit"), 1 + refused_probes);
  EXPECT_EQ(PayloadOf(clients.front()->Call("unaffected")), "unaffected");
}

TEST(LimitsTest, PipeliningClientYieldsToOthers) {
  // `spin` busies its worker for 1 ms per request: a burst of 2000 holds one worker for 2 s.
  ServerProcess server = ServerProcess::Start(
      {"--handler=spin", "--workers=1", "--max_frames_per_batch=4"}, "tests/test_server").value();
  auto greedy = ConnectTo(server.port());
  ASSERT_NE(greedy, nullptr);
  constexpr int kBurst = 2000;
  std::string burst;
  for (int i = 0; i < kBurst; ++i) burst += Frame("greedy");
  std::atomic<int> greedy_answered{0};
  std::thread reader([&] {
    for (int i = 0; i < kBurst; ++i) {
      if (PayloadOf(greedy->Receive()) != "greedy") break;
      ++greedy_answered;
    }
  });
  ASSERT_TRUE(greedy->SendRaw(burst).ok());
  ASSERT_TRUE(WaitUntil([&] { return greedy_answered > 0; }));  // the burst is being served
  EXPECT_EQ(CallOnce(server.port(), "probe"), "probe");
  // The probe was answered while the greedy burst was still being served, not after it.
  EXPECT_LT(greedy_answered.load(), kBurst);
  reader.join();
  EXPECT_EQ(greedy_answered.load(), kBurst);
  EXPECT_GE(server.Stats()->at("fairness_yields"), 1);
}

TEST(LimitsTest, RunningOutOfDescriptorsPausesAcceptingWithoutSpinning) {
#ifdef TESTS_UNDER_UBSAN  // tests/BUILD.bazel, on --config=ubsan
  GTEST_SKIP() << "not under UBSan: its vptr check probes memory through a pipe(), which fails "
                  "in a server with no free descriptor, and then reports valid objects as an "
                  "\"invalid vptr\" (tests/BUILD.bazel)";
#endif
  // The server runs with 32 descriptors: its own plus a handful of connections.
  ServerProcess server =
      ServerProcess::Start({"--workers=1"}, "tests/low_fd_limit_server.sh").value();
  std::vector<std::unique_ptr<client::Client>> clients;
  int answered = 0;
  for (int i = 0; i < 40; ++i) {
    absl::StatusOr<std::unique_ptr<client::Client>> c =
        client::Client::Connect("127.0.0.1", server.port(), absl::Seconds(2));
    if (!c.ok()) continue;
    absl::StatusOr<client::Client::Reply> reply = (*c)->Call("hi");
    answered += reply.ok();
    clients.push_back(std::move(*c));
  }
  EXPECT_GT(answered, 0);
  EXPECT_LT(answered, 40) << "the server had more descriptors than the test assumes";
  clients.clear();  // descriptors come back: the server accepts again, stats included
  ExpectServed(server.port());
  absl::StatusOr<std::map<std::string, int64_t>> stats = server.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status() << "\nserver log:\n" << server.Log();
  EXPECT_GE(stats->at("accept_pauses_fd_limit"), 1);
  EXPECT_THAT(server.Log(), HasSubstr("out of file descriptors"));
}

}  // namespace
}  // namespace tests
