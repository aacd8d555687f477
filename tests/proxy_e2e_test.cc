// The proxy handler (handlers/proxy) and the upstream client under it (server/upstream), as
// processes on loopback: a client -> proxy -> backends chain, pipelined; a client's batch kept
// together on one backend; kv keys hashed to the backend that holds them; a backend killed
// under load, with and without retries; a backend that never answers, one that sends a bad
// header, a drain with calls in flight, bad flags.
// What it does with its backends beyond forwarding: proxy_backends_e2e_test.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/proxy_test_util.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

TEST(ProxyE2eTest, PipelinedRequestsOfManyClientsComeBackInOrder) {
  std::vector<ServerProcess> backends = StartBackends(3, {"--handler=echo"});
  ServerProcess proxy = StartProxy(PortsOf(backends), {"--workers=2"});
  std::vector<std::thread> clients;
  std::atomic<int> in_order{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      auto c = ConnectTo(proxy.port());
      if (c == nullptr) return;
      for (int round = 0; round < 5; ++round) {
        std::vector<std::string> requests;
        for (int i = 0; i < 200; ++i) requests.push_back(absl::StrCat("c", t, "-", round, "-", i));
        if (Pipeline(*c, requests) == requests) ++in_order;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(in_order.load(), 20);
  // Spread over the three: each backend answered some.
  for (ServerProcess& b : backends) {
    absl::StatusOr<std::map<std::string, int64_t>> stats = b.Stats();
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_GT((*stats)["frames_in"], 100);
  }
}

// The frames a client pipelines in one write reach the proxy in one read and go to one backend
// connection together (CallOptions::batch), so their replies come back together; the next
// batch goes to the other backend (round robin by batch, not by frame).
TEST(ProxyE2eTest, AClientsPipelinedBatchGoesToOneBackendAndTheNextBatchToTheOther) {
  std::vector<ServerProcess> backends = StartBackends(2, {"--handler=echo"});
  ServerProcess proxy = StartProxy(PortsOf(backends), {"--workers=1", "--admin_port=0"});
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  auto calls_to = [&](int b) {
    return Sample(Metrics(proxy.admin_port()),
                  absl::StrCat("tcp_server_upstream_backend_calls_total{upstream=\"proxy\","
                               "backend=\"127.0.0.1:", backends[b].port(), "\"}"));
  };
  std::vector<std::string> batch;
  for (int i = 0; i < 40; ++i) batch.push_back(absl::StrCat("r", i));
  ASSERT_EQ(Pipeline(*c, batch), batch);
  EXPECT_THAT((std::vector<int64_t>{calls_to(0), calls_to(1)}), UnorderedElementsAre(40, 0));
  ASSERT_EQ(Pipeline(*c, batch), batch);
  EXPECT_EQ(calls_to(0), 40);
  EXPECT_EQ(calls_to(1), 40);
}

TEST(ProxyE2eTest, HashingByKvKeyFindsEveryValueWhereItWasSet) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::vector<ServerProcess> backends;
  for (int i = 0; i < 3; ++i) {
    backends.push_back(ServerProcess::Start({"--handler=kv", "--workers=1",
                                             absl::StrCat("--kv_path=", tmp ? tmp : "/tmp",
                                                          "/proxy_kv_", i)})
                           .value());
  }
  ServerProcess proxy = StartProxy(PortsOf(backends),
                                   {"--proxy_balance=hash", "--proxy_hash=kv_key"});
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  std::vector<std::string> sets, gets, stored, found;
  for (int i = 0; i < 300; ++i) {
    sets.push_back(absl::StrCat("SET key", i, " value", i));
    gets.push_back(absl::StrCat("GET key", i));
    stored.push_back("+");
    found.push_back(absl::StrCat("+value", i));
  }
  EXPECT_EQ(Pipeline(*c, sets), stored);
  EXPECT_EQ(Pipeline(*c, gets), found);
  for (ServerProcess& b : backends) {  // each holds a share of the keys
    EXPECT_GT((*b.Stats())["frames_in"], 300 / 3 / 2);
  }
}

// Pipelined load from `threads` clients until `stop`; counts replies that are not the request.
struct Load {
  Load(int port, int threads) {
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([this, port, t] {
        auto c = ConnectTo(port);
        if (c == nullptr) return ++failed, void();
        for (int round = 0; !stop; ++round) {
          std::vector<std::string> requests;
          for (int i = 0; i < 16; ++i) requests.push_back(absl::StrCat(t, ":", round, ":", i));
          const std::vector<std::string> replies = Pipeline(*c, requests);
          for (size_t i = 0; i < requests.size(); ++i) {
            if (i >= replies.size() || replies[i] != requests[i]) {
              ++failed;
              if (i < replies.size() && first_error.empty()) first_error = replies[i];
            }
          }
          batches += 1;
          if (replies.size() != requests.size()) return;  // the connection is gone
        }
      });
    }
  }
  void Stop() {
    stop = true;
    for (std::thread& t : workers) t.join();
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> failed{0};
  std::string first_error;  // written once, read after Stop()
  std::vector<std::thread> workers;
};

TEST(ProxyE2eTest, ABackendKilledUnderLoadLosesNoRequestWithRetries) {
  std::vector<ServerProcess> backends = StartBackends(3, {"--handler=echo"});
  ServerProcess proxy = StartProxy(PortsOf(backends), {"--proxy_retry=all"});
  Load load(proxy.port(), 8);
  ASSERT_TRUE(WaitUntil([&] { return load.batches >= 200; }));
  kill(backends[1].pid(), SIGKILL);
  const int64_t at_kill = load.batches;
  ASSERT_TRUE(WaitUntil([&] { return load.batches >= at_kill + 500; }));
  load.Stop();
  EXPECT_EQ(load.failed, 0) << load.first_error;
}

// A sleeping backend holds calls in flight for as long as the test likes (its
// requests_answered_later counts those it has taken; one connection's calls run one after the
// other).
TEST(ProxyE2eTest, WithoutRetriesTheCallsOnAKilledBackendFailAtOnceAndItComesBack) {
  std::vector<ServerProcess> backends = StartBackends(1, {"--handler=sleep"});
  const int port = backends[0].port();
  ServerProcess proxy = StartProxy({port}, {"--proxy_retry=none", "--proxy_timeout_ms=20000"});
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send("5000").ok());
  ASSERT_TRUE(c->Send("5000").ok());
  ASSERT_TRUE(WaitUntil([&] { return (*backends[0].Stats())["requests_answered_later"] == 1; }));
  const absl::Time killed = absl::Now();
  kill(backends[0].pid(), SIGKILL);
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<client::Client::Reply> reply = c->Receive();
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_TRUE(reply->is_error);
    EXPECT_THAT(reply->payload, HasSubstr("UNAVAILABLE"));
  }
  EXPECT_LT(absl::Now() - killed, absl::Seconds(2)) << "answered at once, not at the deadline";
  backends[0].Wait();
  // Connects are refused, and fail the calls at once, until it is ejected.
  ASSERT_TRUE(WaitUntil([&] {
    EXPECT_TRUE(IsErrorReply(c->Call("0")));
    return proxy.Log().find("ejected") != std::string::npos;
  }));
  ServerProcess again = ServerProcess::Start({"--handler=sleep", "--workers=1",
                                              absl::StrCat("--port=", port)})
                            .value();
  EXPECT_TRUE(WaitUntil([&] { return PayloadOf(c->Call("0")) == "0"; }, absl::Seconds(40)))
      << "taken back once its ejection ends";
}

TEST(ProxyE2eTest, ABackendThatNeverAnswersTimesCallsOutAndTheProxyStaysBounded) {
  FakeBackend silent([](int) {});  // holds the connection, reads nothing, answers nothing
  ServerProcess proxy = StartProxy({silent.port()}, {"--proxy_timeout_ms=100", "--workers=1"});
  const int fds_before = proxy.OpenFds();
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> requests(10, "hello");
    for (const std::string& reply : Pipeline(*c, requests)) {
      EXPECT_THAT(reply, ::testing::AnyOf(HasSubstr("DEADLINE_EXCEEDED"), HasSubstr("UNAVAILABLE")));
    }
  }
  // 200 calls, at most 2 connections to the backend open at a time (plus the client's).
  EXPECT_LE(proxy.OpenFds(), fds_before + 3);
  EXPECT_THAT(proxy.Log(), HasSubstr("ejected"));
}

TEST(ProxyE2eTest, ABadHeaderFromABackendFailsOnlyTheCallsOnThatConnection) {
  FakeBackend bad([](int fd) {
    char request[64];
    if (read(fd, request, sizeof(request)) > 0) {
      const char header[4] = {'\x7f', '\xff', '\xff', '\xff'};  // far past any frame limit
      (void)!write(fd, header, sizeof(header));
    }
  });
  std::vector<ServerProcess> good = StartBackends(1, {"--handler=echo"});
  ServerProcess proxy = StartProxy({bad.port(), good[0].port()},
                                   {"--proxy_retry=none", "--workers=1"});
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  int answered = 0, failed = 0;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<client::Client::Reply> reply = c->Call(absl::StrCat("r", i));
    ASSERT_TRUE(reply.ok()) << "the client's connection stays: " << reply.status();
    if (!reply->is_error && reply->payload == absl::StrCat("r", i)) ++answered;
    if (reply->is_error && absl::StrContains(reply->payload, "UNAVAILABLE")) ++failed;
  }
  EXPECT_EQ(answered + failed, 20);
  EXPECT_GE(answered, 10) << "the good backend answered its share";
  EXPECT_GE(failed, 1);
}

TEST(ProxyE2eTest, ADrainAnswersTheCallsInFlight) {
  std::vector<ServerProcess> backends = StartBackends(1, {"--handler=sleep"});
  ServerProcess proxy = StartProxy(PortsOf(backends), {"--proxy_timeout_ms=5000"});
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send("300").ok());
  ASSERT_TRUE(WaitUntil([&] { return (*backends[0].Stats())["requests_answered_later"] == 1; }));
  proxy.Signal(SIGTERM);
  EXPECT_EQ(PayloadOf(c->Receive()), "300");
  EXPECT_EQ(proxy.Wait(), 0);
}

TEST(ProxyE2eTest, BadFlagsExitTwoNamingTheFlag) {
  for (const std::string& flag :
       {std::string("--proxy_backends="), std::string("--proxy_backends=nohost"),
        std::string("--proxy_balance=random"), std::string("--proxy_retry=some"),
        std::string("--proxy_tls_server_name=x"), std::string("--proxy_health_check_ms=5"), std::string("--proxy_tls_ca=/nonexistent")}) {
    std::vector<std::string> flags = {"--handler=proxy", "--proxy_backends=127.0.0.1:1", flag};
    if (flag.rfind("--proxy_tls_ca", 0) == 0) flags.push_back("--proxy_tls");
    const auto [status, output] = RunCommand(absl::StrCat(RunfilePath("server/server"), " ",
                                                          absl::StrJoin(flags, " "), " 2>&1"));
    EXPECT_EQ(status, 2) << flag << ": " << output;
    EXPECT_THAT(output, HasSubstr(flag.substr(0, flag.find('=')))) << flag;
  }
}

}  // namespace
}  // namespace tests
