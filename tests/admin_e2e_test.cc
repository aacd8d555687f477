// The admin port against a real server: health and readiness (readiness fails first on
// SIGTERM while the data port still serves), the metrics page (checked by Debian's promtool,
// and scraped by a real Prometheus that computes a latency quantile from it), /stats, and a
// restart on the same port with SO_REUSEPORT that a running client does not notice.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "common/testing/loopback.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

// GET http://127.0.0.1:port/path: the status code (-1 if no answer) and the body.
std::pair<int, std::string> Get(int port, const std::string& path) {
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5);
  http.set_read_timeout(10);
  httplib::Result result = http.Get(path.c_str());
  if (!result) return {-1, ""};
  return {result->status, result->body};
}

TEST(AdminE2eTest, HealthAndReadiness) {
  ServerProcess server = ServerProcess::Start({"--admin_port=0"}).value();
  EXPECT_EQ(Get(server.admin_port(), "/healthz"), std::make_pair(200, std::string("ok\n")));
  EXPECT_EQ(Get(server.admin_port(), "/readyz").first, 200);
  EXPECT_EQ(Get(server.admin_port(), "/nothing").first, 404);
}

TEST(AdminE2eTest, ReadinessFailsFirstOnSigtermWhileTheServerStillServes) {
  ServerProcess server =
      ServerProcess::Start({"--admin_port=0", "--drain_delay_ms=3000"}).value();
  auto before = ConnectTo(server.port());
  ASSERT_NE(before, nullptr);
  server.Signal(SIGTERM);
  ASSERT_TRUE(WaitUntil([&] { return Get(server.admin_port(), "/readyz").first == 503; }));
  // Not ready, yet serving: old connections, and new ones too, during --drain_delay_ms.
  EXPECT_EQ(PayloadOf(before->Call("old connection")), "old connection");
  EXPECT_EQ(CallOnce(server.port(), "new connection"), "new connection");
  EXPECT_EQ(Get(server.admin_port(), "/healthz").first, 200);
  EXPECT_EQ(server.Wait(), 0);
  EXPECT_TRUE(ClosedByServer(*before));
}

TEST(AdminE2eTest, MetricsPassPromtoolAndCountTheTraffic) {
  ServerProcess server = ServerProcess::Start({"--admin_port=0", "--handler=sleep"}).value();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(CallOnce(server.port(), "1"), "1");
  const auto [status, metrics] = Get(server.admin_port(), "/metrics");
  ASSERT_EQ(status, 200);
  for (const char* family : {"# TYPE tcp_server_frames_in_total counter",
                             "# TYPE tcp_server_request_latency_seconds histogram",
                             "# TYPE process_resident_memory_bytes gauge",
                             "# TYPE tcp_server_connections_peak gauge"}) {
    EXPECT_THAT(metrics, HasSubstr(family));
  }
  EXPECT_THAT(metrics, HasSubstr("tcp_server_config_info{handler=\"sleep\""));
  EXPECT_THAT(metrics, HasSubstr("tcp_server_handler_events_total{handler=\"sleep\",name=\"sleeps\"} 10"));
  EXPECT_THAT(metrics, HasSubstr("tcp_server_request_latency_seconds_bucket{worker=\"0\",le=\"+Inf\"}"));
  const std::string file = TempPath("metrics.txt");
  std::ofstream(file) << metrics;
  const auto [promtool_status, promtool_output] = RunCommand("promtool check metrics < " + file);
  EXPECT_EQ(promtool_status, 0) << promtool_output;
  // The stats text too.
  const auto [stats_status, stats] = Get(server.admin_port(), "/stats");
  EXPECT_EQ(stats_status, 200);
  EXPECT_THAT(stats, HasSubstr("\nhandler_sleep_sleeps 10\n"));
}

TEST(AdminE2eTest, PrometheusScrapesTheServerAndComputesALatencyQuantile) {
  ServerProcess server = ServerProcess::Start({"--admin_port=0"}).value();
  const std::string dir = TempPath("prometheus");
  const std::string config = dir + ".yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\nscrape_configs:\n"
                        << "  - job_name: tcp_server\n    static_configs:\n"
                        << "      - targets: ['127.0.0.1:" << server.admin_port() << "']\n";
  const int port = common::testing::FreePort();  // Prometheus cannot report the port it picked
  const std::string config_flag = "--config.file=" + config;
  const std::string storage_flag = "--storage.tsdb.path=" + dir;
  const std::string listen_flag = absl::StrCat("--web.listen-address=127.0.0.1:", port);
  const std::string log = dir + ".log";
  const pid_t prometheus = fork();
  if (prometheus == 0) {
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
    execl("/usr/bin/prometheus", "prometheus", config_flag.c_str(), storage_flag.c_str(),
          listen_flag.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(prometheus, 0);
  std::atomic<bool> stop{false};
  std::thread traffic([&] {  // echo traffic while Prometheus scrapes
    auto c = ConnectTo(server.port());
    while (c != nullptr && !stop) ASSERT_EQ(PayloadOf(c->Call("traffic")), "traffic");
  });
  auto query = [&](const std::string& promql) {
    return Get(port, "/api/v1/query?query=" + absl::StrReplaceAll(promql, {{"+", "%2B"},
                                                                            {" ", "%20"},
                                                                            {"[", "%5B"},
                                                                            {"]", "%5D"}}));
  };
  // Two scrapes with traffic between them: the counter grew, and a quantile can be computed.
  const bool grew = WaitUntil([&] {
    const auto [status, body] = query("increase(tcp_server_frames_in_total[10s]) > 0");
    return status == 200 && absl::StrContains(body, "\"result\":[{");
  }, absl::Seconds(60));
  const auto [status, body] = query(
      "histogram_quantile(0.99, sum by (le) (rate(tcp_server_request_latency_seconds_bucket[10s])))");
  stop = true;
  traffic.join();
  kill(prometheus, SIGTERM);
  int ignored;
  waitpid(prometheus, &ignored, 0);
  ASSERT_TRUE(grew) << "Prometheus never saw frames_in grow";
  EXPECT_EQ(status, 200);
  EXPECT_THAT(body, HasSubstr("\"result\":[{\"metric\":{},\"value\":[")) << body;
  EXPECT_FALSE(absl::StrContains(body, "NaN")) << body;
}

TEST(AdminE2eTest, ReusePortRestartOnTheSamePortLosesNoRequest) {
  ServerProcess old_server =
      ServerProcess::Start({"--reuse_port", "--drain_delay_ms=500", "--workers=1"}).value();
  const int port = old_server.port();
  // A client bench across the restart, resending what a closing server did not answer.
  std::pair<int, std::string> bench;
  std::thread client([&] {
    bench = RunCommand(absl::StrCat(RunfilePath("client/client"), " --port=", port,
                                    " --bench --connections=8 --duration_s=4 --retries=5",
                                    " --verify=echo --json"));
  });
  ASSERT_TRUE(WaitUntil([&] { return old_server.Stats()->at("frames_in") > 1000; }))
      << "the bench is not running";
  // The new server binds the port the old one still listens on.
  absl::StatusOr<ServerProcess> new_server = ServerProcess::Start(
      {"--reuse_port", "--workers=1", absl::StrCat("--port=", port)});
  ASSERT_TRUE(new_server.ok()) << new_server.status();
  ASSERT_EQ(new_server->port(), port);
  EXPECT_EQ(old_server.Stop(SIGTERM), 0);
  client.join();
  EXPECT_EQ(bench.first, 0) << bench.second;
  EXPECT_THAT(bench.second, HasSubstr("\"errors\":0,")) << bench.second;
  EXPECT_THAT(bench.second, HasSubstr("\"mismatches\":0,")) << bench.second;
}

}  // namespace
}  // namespace tests
