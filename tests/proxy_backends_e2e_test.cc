// What the proxy does with its backends beyond forwarding, as processes on loopback: what it
// holds for retries charged to the memory budget, metrics per upstream and backend, TLS to the
// backends (mutual, and a certificate that does not verify), and active health checks.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/proxy_test_util.h"
#include "tests/server_process.h"
#include "tests/test_util.h"
#include "tests/tls_test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

// The requests an upstream keeps for a retry are charged to --max_buffer_memory while they
// wait, and given back once answered.
TEST(ProxyE2eTest, RequestsKeptForARetryAreChargedToTheMemoryBudget) {
  FakeBackend silent([](int) {});
  ServerProcess proxy = StartProxy({silent.port()}, {"--proxy_retry=all", "--admin_port=0",
                                                     "--proxy_timeout_ms=2000", "--workers=1"});
  const int64_t before = BufferMemory(proxy.admin_port());
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  const std::string big(20 << 10, 'k');
  std::string bytes;
  for (int i = 0; i < 50; ++i) bytes += Frame(big);
  ASSERT_TRUE(c->SendRaw(bytes).ok());
  EXPECT_TRUE(WaitUntil([&] { return BufferMemory(proxy.admin_port()) >= before + 50 * (20 << 10); }))
      << BufferMemory(proxy.admin_port());
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(IsErrorReply(c->Receive()));  // DEADLINE_EXCEEDED
  EXPECT_TRUE(WaitUntil([&] { return BufferMemory(proxy.admin_port()) < before + (64 << 10); }))
      << BufferMemory(proxy.admin_port());
}

TEST(ProxyE2eTest, MetricsCountCallsRetriesAndFailuresPerBackend) {
  std::vector<ServerProcess> live = StartBackends(1, {"--handler=echo"});
  const int dead = FreePort();
  ServerProcess proxy = StartProxy({live[0].port(), dead},
                                   {"--proxy_retry=none", "--admin_port=0", "--workers=1"});
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  const std::string dead_backend = absl::StrCat("backend=\"127.0.0.1:", dead, "\"");
  int calls = 0;
  // Until the dead one is ejected; every call answered (never sent to the dead one: retried).
  ASSERT_TRUE(WaitUntil([&] {
    ++calls;
    EXPECT_EQ(PayloadOf(c->Call("x")), "x");
    return absl::StrContains(Metrics(proxy.admin_port()),
                             "tcp_server_upstream_backend_ejections_total{upstream=\"proxy\"," +
                                 dead_backend + "} 1");
  }, absl::Seconds(20)));
  const std::string page = Metrics(proxy.admin_port());
  EXPECT_THAT(page, HasSubstr(absl::StrCat("tcp_server_upstream_calls_total{upstream=\"proxy\"} ",
                                           calls)));
  EXPECT_THAT(page, HasSubstr("tcp_server_upstream_backend_errors_total{upstream=\"proxy\"," +
                              dead_backend + ",kind=\"connect\"} 5"));
  EXPECT_THAT(page, HasSubstr(absl::StrCat("tcp_server_upstream_backend_replies_total{upstream=\"proxy\",backend=\"127.0.0.1:",
                                           live[0].port(), "\"} ", calls)));
  EXPECT_THAT(page, HasSubstr("tcp_server_upstream_backend_latency_seconds_bucket{upstream=\"proxy\""));
}

// TLS to the backend: the proxy checks the backend's certificate against the CA and the name,
// and presents its own where the backend asks for one (mutual TLS).
TEST(ProxyE2eTest, ReachesATlsBackendWithMutualTls) {
  ServerProcess backend = StartTls("echo", /*mutual=*/true);
  const std::vector<std::string> tls = {
      "--proxy_tls", "--proxy_tls_ca=" + Cert("ca.pem"), "--proxy_tls_server_name=localhost",
      "--proxy_tls_cert=" + Cert("client.pem"), "--proxy_tls_key=" + Cert("client.key")};
  ServerProcess proxy = StartProxy({backend.port()}, tls);
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  std::vector<std::string> requests;
  for (int i = 0; i < 50; ++i) requests.push_back(absl::StrCat("secret ", i));
  EXPECT_EQ(Pipeline(*c, requests), requests) << "backend:\n" << backend.Log() << "proxy:\n"
                                              << proxy.Log();
  EXPECT_EQ(TlsStats(backend, *ClientContext("client"))["tls_handshakes"], 1 + 1)
      << "the proxy's one connection (one client's batch of 50 frames goes on one) and the "
         "stats query's own";
}

TEST(ProxyE2eTest, ABackendWhoseCertificateDoesNotVerifyIsNeverSentARequest) {
  ServerProcess backend = StartTls("echo", /*mutual=*/false);
  // The certificate is for "localhost": a proxy that expects another name refuses it.
  ServerProcess proxy = StartProxy({backend.port()}, {"--proxy_tls", "--proxy_tls_ca=" + Cert("ca.pem"),
                                                      "--proxy_tls_server_name=elsewhere",
                                                      "--proxy_retry=none"});
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(PayloadOf(c->Call("secret")), HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(TlsStats(backend, *ClientContext())["frames_in"], 0) << "no request reached it";
}

// Active health checks: with no client traffic at all, a probe frame goes to each backend every
// 50 ms; a backend that answers none is ejected, one that answers them is not.
TEST(ProxyE2eTest, HealthChecksEjectASilentBackendWithNoTraffic) {
  FakeBackend silent([](int) {});  // holds the connection, answers nothing
  std::vector<ServerProcess> live = StartBackends(1, {"--handler=echo"});
  ServerProcess proxy = StartProxy({silent.port(), live[0].port()},
                                   {"--proxy_health_check_ms=50", "--admin_port=0", "--workers=1"});
  auto series = [](const char* name, int port, const char* more) {
    return absl::StrCat("tcp_server_upstream_backend_", name, "{upstream=\"proxy\",backend=\"127.0.0.1:",
                        port, "\"", more, "}");
  };
  ASSERT_TRUE(WaitUntil([&] {
    return Sample(Metrics(proxy.admin_port()), series("ejections_total", silent.port(), "")) >= 1;
  })) << Metrics(proxy.admin_port());
  const std::string page = Metrics(proxy.admin_port());
  EXPECT_GE(Sample(page, series("health_checks_total", silent.port(), ",result=\"failed\"")), 5);
  EXPECT_GE(Sample(page, series("health_checks_total", live[0].port(), ",result=\"ok\"")), 5);
  EXPECT_EQ(Sample(page, series("ejections_total", live[0].port(), "")), 0);
  for (const char* upstream_counter : {"calls", "timeouts", "unavailable"}) {
    EXPECT_EQ(Sample(page, absl::StrCat("tcp_server_upstream_", upstream_counter,
                                        "_total{upstream=\"proxy\"}")),
              0)
        << upstream_counter << ": probes are not calls";
  }
  EXPECT_GE((*live[0].Stats())["frames_in"], 5) << "the probes reached it";
}

// A backend killed, then started again on its port while ejected, is taken back by the first
// health check it answers, before its ejection would have ended.
TEST(ProxyE2eTest, AHealthCheckTakesARestartedBackendBackAtOnce) {
  std::vector<ServerProcess> backends = StartBackends(2, {"--handler=echo"});
  const int port = backends[1].port();
  ServerProcess proxy =
      StartProxy(PortsOf(backends), {"--proxy_health_check_ms=50", "--admin_port=0", "--workers=1"});
  const std::string ejections = absl::StrCat(
      "tcp_server_upstream_backend_ejections_total{upstream=\"proxy\",backend=\"127.0.0.1:", port,
      "\"}");
  kill(backends[1].pid(), SIGKILL);
  backends[1].Wait();
  // Failed probes eject it for 1 s, then 2 s, then 4 s: the third is long enough to start it
  // again within.
  ASSERT_TRUE(WaitUntil([&] { return Sample(Metrics(proxy.admin_port()), ejections) >= 3; },
                        absl::Seconds(20)));
  ServerProcess again =
      ServerProcess::Start({"--handler=echo", "--workers=1", absl::StrCat("--port=", port)}).value();
  EXPECT_TRUE(WaitUntil(
      [&] { return absl::StrContains(proxy.Log(), "answered a health check: taken back"); }))
      << proxy.Log();
  // Calls reach it again (round robin): counted as the backend's calls, which probes are not.
  const std::string calls = absl::StrCat(
      "tcp_server_upstream_backend_calls_total{upstream=\"proxy\",backend=\"127.0.0.1:", port, "\"}");
  const int64_t before = Sample(Metrics(proxy.admin_port()), calls);
  auto c = ConnectTo(proxy.port());
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(PayloadOf(c->Call("back")), "back");
  EXPECT_GE(Sample(Metrics(proxy.admin_port()), calls), before + 4);
}

}  // namespace
}  // namespace tests
