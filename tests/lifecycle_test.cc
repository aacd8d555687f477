// The server's life: start-up validation, graceful shutdown, abrupt clients, many idle ones.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/base/config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

TEST(LifecycleTest, BadFlagsExitTwoNamingTheFlag) {
  const std::string server = RunfilePath("server/server");
  struct Case {
    std::string flags;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"--no_such_flag", "server: unknown flag --no_such_flag"},
           {"--port=70000", "server: --port must be in 0..65535"},
           {"--port=abc", "server: invalid value 'abc' for --port"},
           {"--workers=-1", "server: --workers must be in 0..1024"},
           {"--max_frame_bytes=4294967295", "server: --max_frame_bytes must be in 0..2147483647"},
           {"--handler_threads=0", "server: --handler_threads must be in 1..1024"},
           {"--handler=nope", "server: --handler: unknown handler 'nope'; available: "},
           {"--bind=not-an-ip --port=0",
            "server: --bind 'not-an-ip' is not an IPv4 or IPv6 address literal"},
       }) {
    const auto [status, output] = RunCommand(server + " " + c.flags);
    EXPECT_THAT(output, HasSubstr(c.message)) << c.flags;
    EXPECT_EQ(status, 2) << c.flags << ": " << output;
  }
}

TEST(LifecycleTest, UnknownHandlerListsTheAvailableOnes) {
  const auto [status, output] = RunCommand(RunfilePath("server/server") + " --handler=nope");
  EXPECT_EQ(status, 2);
  // Whatever else is linked, the shipped handlers are listed.
  for (const char* name : {"echo", "uppercase", "stats", "sleep"}) {
    EXPECT_THAT(output, HasSubstr(name)) << output;
  }
}

TEST(LifecycleTest, AnAddressInUseExitsOneNamingIt) {
  ServerProcess first = ServerProcess::Start({}).value();
  const auto [status, output] = RunCommand(
      absl::StrCat(RunfilePath("server/server"), " --port=", first.port()));
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr(absl::StrCat("server: cannot bind 127.0.0.1 port ", first.port())));
}

TEST(LifecycleTest, HelpListsFlagsAndHandlers) {
  const auto [status, output] = RunCommand(RunfilePath("server/server") + " --help");
  EXPECT_EQ(status, 0);
  EXPECT_THAT(output, HasSubstr("--max_pending_output_bytes"));
  EXPECT_THAT(output, HasSubstr("uppercase: Returns each payload with ASCII a-z upper-cased."));
}

TEST(LifecycleTest, StartupLogNamesAddressPortHandlerAndWorkers) {
  ServerProcess server = ServerProcess::Start({"--handler=uppercase", "--workers=3"}).value();
  EXPECT_THAT(server.Log(), HasSubstr(absl::StrCat("listening on 127.0.0.1:", server.port(),
                                                   " handler=uppercase workers=3")));
}

TEST(LifecycleTest, SigtermAnswersEveryRequestAlreadySentThenExitsZero) {
  ServerProcess server = ServerProcess::Start({"--workers=2"}).value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  std::string burst;
  for (int i = 0; i < 2000; ++i) burst += Frame(absl::StrCat("request ", i));
  ASSERT_TRUE(c->SendRaw(burst).ok());
  // Sent is not yet received: on a loaded machine the kernel may deliver loopback bytes after
  // send() returns, and a connection that has sent nothing owes nothing, so the drain would
  // close it (resetting it when the bytes land). Once the server has taken one frame it has
  // the whole burst (one segment: under loopback's 64 KiB MSS). Each stats request before
  // this one counts as a frame too.
  int stats_requests = 0;
  ASSERT_TRUE(WaitUntil([&] { return server.Stats()->at("frames_in") >= ++stats_requests; }));
  server.Signal(SIGTERM);
  for (int i = 0; i < 2000; ++i) {
    absl::StatusOr<client::Client::Reply> reply = c->Receive();
    ASSERT_TRUE(reply.ok()) << "reply " << i << ": " << reply.status() << "\nserver log:\n"
                            << server.Log();
    ASSERT_EQ(reply->payload, absl::StrCat("request ", i));
  }
  EXPECT_TRUE(ClosedByServer(*c));
  EXPECT_EQ(server.Wait(), 0);
}

// True while `c`'s connection is open and nothing has arrived on it (no reply, no close).
bool OpenAndSilent(client::Client& c) {
  char byte;
  return recv(c.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

TEST(LifecycleTest, ShutdownClosesIdleConnectionsAtOnceAndStopsAccepting) {
  // "At once" is checked by order, not by a clock: a connection with a partial frame holds the
  // drain until the grace deadline (a minute; its frame timeout is longer), and the idle
  // connection on the same worker must be closed while that one is still open. A server that
  // left idle connections to the deadline fails here (the idle connection's receive gives up
  // after 30 s).
  ServerProcess server = ServerProcess::Start(
      {"--shutdown_grace_ms=60000", "--frame_timeout_ms=120000", "--workers=1"}).value();
  auto idle = ConnectTo(server.port());
  ASSERT_NE(idle, nullptr);
  ASSERT_EQ(PayloadOf(idle->Call("hi")), "hi");
  auto unfinished = ConnectTo(server.port());
  ASSERT_NE(unfinished, nullptr);
  // Wait until the server has read the partial frame (14 bytes); each stats request counts its
  // own 4 bytes too.
  const int64_t bytes_in = server.Stats()->at("bytes_in");
  ASSERT_TRUE(unfinished->SendRaw(Header(100) + "unfinished").ok());
  int stats_requests = 0;
  ASSERT_TRUE(WaitUntil([&] {
    ++stats_requests;
    return server.Stats()->at("bytes_in") >= bytes_in + 4 * stats_requests + 14;
  }));

  server.Signal(SIGINT);
  EXPECT_TRUE(ClosedByServer(*idle)) << "the idle connection was not closed when shutdown began";
  EXPECT_TRUE(OpenAndSilent(*unfinished))
      << "the unfinished connection was closed too: the close came at the grace deadline (or "
         "the server exited), not at once";
  // Its client gives up; nothing holds the drain any more and the server exits at once.
  unfinished.reset();
  EXPECT_EQ(server.Wait(), 0);
  EXPECT_FALSE(client::Client::Connect("127.0.0.1", server.port(), absl::Seconds(1)).ok());
}

TEST(LifecycleTest, GraceDeadlineClosesConnectionsThatNeverFinish) {
  ServerProcess server = ServerProcess::Start({"--shutdown_grace_ms=300"}).value();
  auto stuck = ConnectTo(server.port());
  ASSERT_NE(stuck, nullptr);
  ASSERT_TRUE(stuck->SendRaw(Header(100) + "never finished").ok());
  ASSERT_TRUE(WaitUntil([&] { return server.Stats()->at("bytes_in") >= 18; }));
  const absl::Time start = absl::Now();
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  EXPECT_TRUE(ClosedByServer(*stuck));
}

// Opens a connection and abandons it in one of several abrupt ways.
void AbuseOnce(int port, int kind, std::mt19937& rng) {
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect("127.0.0.1", port, absl::Seconds(5));
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string frame = Frame(std::string(rng() % 3000, 'c'));
  switch (kind) {
    case 0:  // connect and vanish
      break;
    case 1:  // vanish at a random byte of a frame
      ASSERT_TRUE((*c)->SendRaw(frame.substr(0, rng() % frame.size())).ok());
      break;
    case 2: {  // reset (RST) while replies are pending
      std::string burst;
      for (int i = 0; i < 50; ++i) burst += frame;
      ASSERT_TRUE((*c)->SendRaw(burst).ok());
      const linger reset{1, 0};
      setsockopt((*c)->fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
      break;
    }
    case 3:  // half-close after a request: the reply must still come
      ASSERT_TRUE((*c)->Send("bye").ok());
      (*c)->ShutdownWrite();
      ASSERT_EQ(PayloadOf((*c)->Receive()), "bye");
      break;
  }
}

TEST(LifecycleTest, AbruptDisconnectsLeakNoDescriptors) {
  ServerProcess server = ServerProcess::Start({"--workers=2"}).value();
  const int baseline = server.OpenFds();  // before any connection exists
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) AbuseOnce(server.port(), i % 4, rng);
  // Only the stats connection remains, and the descriptor count is back where it was.
  ASSERT_TRUE(WaitUntil([&] { return server.Stats()->at("connections_active") == 1; }))
      << server.Stats()->at("connections_active");
  EXPECT_TRUE(WaitUntil([&] { return server.OpenFds() == baseline; }))
      << server.OpenFds() << " open, baseline " << baseline;
  EXPECT_EQ(CallOnce(server.port(), "after churn"), "after churn");
}

// The bound on RSS per idle connection (see the test), 0 where RSS says nothing of it.
#if defined(ABSL_HAVE_THREAD_SANITIZER)
constexpr int64_t kIdleConnectionBytesBound = 0;
#elif defined(ABSL_HAVE_ADDRESS_SANITIZER)
constexpr int64_t kIdleConnectionBytesBound = 2048;
#else
constexpr int64_t kIdleConnectionBytesBound = 1024;
#endif

TEST(LifecycleTest, TwoWorkersHoldTenThousandIdleConnections) {
  constexpr int kConnections = 10000;
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_max < kConnections + 100) {
    GTEST_SKIP() << "needs a descriptor hard limit (ulimit -Hn) of at least " << kConnections + 100
                 << " to hold its connections; it is " << limit.rlim_max;
  }
  limit.rlim_cur = limit.rlim_max;  // the server, a child, inherits it
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);

  ServerProcess server =
      ServerProcess::Start({"--workers=2", "--max_connections=10100"}).value();
  ASSERT_EQ(CallOnce(server.port(), "warm"), "warm");
  const int64_t rss_before = server.RssKb();
  std::vector<std::unique_ptr<client::Client>> idle;
  idle.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    absl::StatusOr<std::unique_ptr<client::Client>> c =
        client::Client::Connect("127.0.0.1", server.port(), absl::Seconds(10));
    ASSERT_TRUE(c.ok()) << "connection " << i << ": " << c.status();
    idle.push_back(std::move(*c));
  }
  ASSERT_TRUE(WaitUntil(
      [&] { return server.Stats()->at("connections_active") == kConnections + 1; },
      absl::Seconds(30)));
  auto probe = ConnectTo(server.port());
  ASSERT_NE(probe, nullptr);
  EXPECT_EQ(PayloadOf(probe->Call("probe")), "probe");
  const auto stats = server.Stats().value();
  EXPECT_EQ(stats.at("worker_active_connections{worker=\"0\"}") +
                stats.at("worker_active_connections{worker=\"1\"}"),
            kConnections + 2);
  const int64_t per_connection_bytes = (server.RssKb() - rss_before) * 1024 / kConnections;
  std::cout << "RSS per idle connection: " << per_connection_bytes << " bytes\n";
  // An idle connection costs a few hundred bytes (docs/DESIGN.md; 270-445 B in an optimised
  // build, docs/BENCHMARKS.md). Measured here with this test (fastbuild, both backends): about
  // 600 B, and the same under UBSan; about 1,170 B under ASan (its redzones); about 4,400 B
  // under TSan (its shadow memory). The bound, 1 KiB (2 KiB under ASan), fails on a regression
  // the size of the std::deque the reply order once allocated per connection (about 600 B) or
  // on any buffer of 1 KiB or more kept per idle connection.
  if (kIdleConnectionBytesBound == 0) {
    GTEST_SKIP() << "the connections were held, but RSS per idle connection is not bounded "
                    "under ThreadSanitizer (mostly its shadow memory): measured "
                 << per_connection_bytes << " bytes";
  }
  EXPECT_LT(per_connection_bytes, kIdleConnectionBytesBound);
}

}  // namespace
}  // namespace tests
