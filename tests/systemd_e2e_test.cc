// The server under systemd's protocols, without systemd as PID 1: socket activation through
// systemd's own systemd-socket-activate and through a launcher that holds the socket as a
// socket unit does (a restart refuses no connection), readiness and the watchdog through a
// NOTIFY_SOCKET the test reads, and deploy/systemd's units through systemd-analyze verify.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/server_process.h"
#include "tests/systemd_test_util.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<client::Client> ConnectWithin(int port, absl::Duration timeout) {
  std::unique_ptr<client::Client> c;
  WaitUntil([&] {
    absl::StatusOr<std::unique_ptr<client::Client>> r =
        client::Client::Connect("127.0.0.1", port, absl::Seconds(20));
    if (r.ok()) c = std::move(*r);
    return c != nullptr;
  }, timeout);
  return c;
}

std::string Reply(client::Client& c, absl::string_view request) {
  absl::StatusOr<client::Client::Reply> r = c.Call(request);
  return r.ok() ? r->payload : "error: " + r.status().ToString();
}

TEST(SocketActivationTest, ServesOnTheSocketsSystemdSocketActivateGave) {
  const int data = FreePort(), stats = FreePort(), admin = FreePort();
  absl::StatusOr<ServerProcess> server = ServerProcess::Spawn(
      {.argv = {"/usr/bin/systemd-socket-activate", "-l", absl::StrCat("127.0.0.1:", data), "-l",
                absl::StrCat("127.0.0.1:", stats), "-l", absl::StrCat("127.0.0.1:", admin),
                "--fdname=data:stats:admin",
                // It passes on only what it is told to: the sanitizers' options, and TZ (unset,
                // glibc reloads the zone file at each log line; TSan sees that as a race).
                "-E", "TZ", "-E", "TSAN_OPTIONS", "-E", "ASAN_OPTIONS", "-E", "UBSAN_OPTIONS",
                RunfilePath("server/server"), "--handler=echo", "--workers=2"}});
  ASSERT_TRUE(server.ok()) << server.status();
  // systemd-socket-activate listens, and starts the server at the first connection.
  std::unique_ptr<client::Client> c = ConnectWithin(data, absl::Seconds(20));
  ASSERT_NE(c, nullptr) << server->Log();
  EXPECT_EQ(Reply(*c, "hello world"), "hello world") << server->Log();
  std::unique_ptr<client::Client> s = ConnectWithin(stats, absl::Seconds(5));
  ASSERT_NE(s, nullptr);
  EXPECT_THAT(Reply(*s, "stats"), HasSubstr("connections_accepted "));
  httplib::Client http("127.0.0.1", admin);
  httplib::Result page = http.Get("/connections");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("bytes_in=15 "));  // "hello world" and its 4-byte header
  EXPECT_THAT(server->Log(), HasSubstr("(socket activation)"));
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

TEST(SocketActivationTest, RefusesWhatDoesNotFitNamingIt) {
  int port = 0;
  const int a = ListenOnLoopback(&port), b = ListenOnLoopback(&port);
  struct Case {
    std::vector<int> fds;
    std::string names;
    std::vector<std::string> flags;
    std::string says;
  } cases[] = {
      {{a}, "", {}, "named 'unknown'"},  // no FileDescriptorName=: systemd says "unknown"
      {{a, b}, "data:metrics", {}, "named 'metrics'"},
      {{a, b}, "data:data", {}, "a second socket"},
      {{a}, "stats", {}, "no socket named data"},
      {{a}, "data", {"--port=9999"}, "--port given with socket activation"},
      {{a}, "data", {"--admin_port=0"}, "--admin_port given with socket activation"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {RunfilePath("server/server"), "--handler=echo"};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    absl::StatusOr<ServerProcess> server =
        ServerProcess::Spawn({.argv = argv, .listen_fds = c.fds, .listen_fdnames = c.names});
    ASSERT_TRUE(server.ok());
    EXPECT_EQ(server->Wait(), 2) << c.names;
    EXPECT_THAT(server->Log(), HasSubstr(c.says));
  }
  close(a);
  close(b);
}

// As systemd's socket unit does on `systemctl restart`: the socket stays open in the launcher
// (here, the test); the old process stops accepting at SIGTERM and drains; connections made
// meanwhile wait in the queue and are served by the next process.
TEST(SocketActivationTest, ClientsConnectingWhileTheOldProcessDrainsAreServedByTheNext) {
  int port = 0;
  const int listener = ListenOnLoopback(&port);
  ASSERT_GE(listener, 0);
  const ServerProcess::Launch launch = {
      .argv = {RunfilePath("server/server"), "--handler=sleep", "--workers=2",
               "--shutdown_grace_ms=30000"},
      .listen_fds = {listener},
      .listen_fdnames = "data"};
  ServerProcess old_server = ServerProcess::Spawn(launch).value();
  std::unique_ptr<client::Client> old_client = ConnectWithin(port, absl::Seconds(20));
  ASSERT_NE(old_client, nullptr);
  ASSERT_EQ(Reply(*old_client, "0"), "0");  // the old process serves it
  ASSERT_TRUE(old_client->Send("2000").ok());  // and will drain it for 2 s
  old_server.Signal(SIGTERM);
  ASSERT_TRUE(WaitUntil([&] { return absl::StrContains(old_server.Log(), "stopped accepting"); }))
      << old_server.Log();

  // They connect while the old process drains and say nothing until it has gone: a draining
  // process that accepted them would close them (they owe nothing), a closed socket would
  // refuse them.
  constexpr int kClients = 20;
  std::vector<std::unique_ptr<client::Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    absl::StatusOr<std::unique_ptr<client::Client>> c =
        client::Client::Connect("127.0.0.1", port, absl::Seconds(30));
    ASSERT_TRUE(c.ok()) << "client " << i << " refused: " << c.status();
    clients.push_back(std::move(*c));
  }
  EXPECT_TRUE(old_server.Running()) << "the old process should still be draining";
  absl::StatusOr<client::Client::Reply> last = old_client->Receive();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->payload, "2000");  // the old connection finished
  EXPECT_EQ(old_server.Wait(), 0) << old_server.Log();

  ServerProcess new_server = ServerProcess::Spawn(launch).value();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(Reply(*clients[i], absl::StrCat(i)), absl::StrCat(i))
        << "client " << i << "\n" << new_server.Log();
  }
  EXPECT_EQ(new_server.Stop(SIGTERM), 0) << new_server.Log();
  close(listener);
}

// Starts `binary` with --port=0 and a port file, telling systemd's messages to `notify`.
ServerProcess StartNotifying(const NotifyListener& notify, const std::string& port_file,
                             std::vector<std::string> flags, std::vector<std::string> env = {},
                             const std::string& binary = "server/server") {
  std::vector<std::string> argv = {RunfilePath(binary), "--port=0", "--port_file=" + port_file};
  argv.insert(argv.end(), flags.begin(), flags.end());
  env.push_back(notify.env());
  return ServerProcess::Spawn({.argv = argv, .env = env}).value();
}

int ReadPort(const std::string& path) {
  std::ifstream in(path);
  int port = 0;
  return (in >> port) ? port : 0;
}

TEST(NotifyTest, ReadyOnceThePortAnswersAndStoppingAtSigterm) {
  NotifyListener notify;
  const std::string port_file = TempPath("notify_ready_port");
  ServerProcess server = StartNotifying(notify, port_file, {"--handler=echo"});
  NotifyListener::Message ready;
  ASSERT_TRUE(notify.WaitFor("READY=1", absl::Seconds(20), absl::InfinitePast(), &ready))
      << server.Log();
  EXPECT_THAT(ready.text, HasSubstr("STATUS=serving"));
  // At READY=1 the port is bound and answers at once: no retry.
  const int port = ReadPort(port_file);
  ASSERT_GT(port, 0);
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect("127.0.0.1", port, absl::Seconds(10));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Reply(**c, "ready?"), "ready?");
  EXPECT_FALSE(notify.WaitFor("STOPPING=1", absl::ZeroDuration()));
  server.Signal(SIGTERM);
  NotifyListener::Message stopping;
  ASSERT_TRUE(notify.WaitFor("STOPPING=1", absl::Seconds(20), absl::InfinitePast(), &stopping));
  EXPECT_THAT(stopping.text, HasSubstr("STATUS=draining"));
  EXPECT_EQ(server.Wait(), 0);
}

TEST(NotifyTest, WatchdogPingsAtHalfItsPeriodAndNotWhileAWorkerIsStuck) {
  NotifyListener notify;
  const std::string port_file = TempPath("notify_watchdog_port");
  const absl::Duration period = absl::Milliseconds(200);  // half of WATCHDOG_USEC
  ServerProcess server =
      StartNotifying(notify, port_file, {"--handler=stall", "--workers=2"},
                     {"WATCHDOG_USEC=400000"}, "tests/test_server");
  ASSERT_TRUE(notify.WaitFor("READY=1")) << server.Log();
  const absl::Time idle_from = absl::Now();
  ASSERT_TRUE(WaitUntil([&] { return notify.Times("WATCHDOG=1").size() >= 8; },
                        absl::Seconds(30)));
  // Idle workers still prove their loops turn; never faster than the period.
  std::vector<absl::Time> pings = notify.Times("WATCHDOG=1");
  std::vector<absl::Duration> gaps;
  for (size_t i = 1; i < pings.size(); ++i) gaps.push_back(pings[i] - pings[i - 1]);
  std::sort(gaps.begin(), gaps.end());
  // The median, not the shortest: the times are when this listener received each ping, and a
  // ping received late makes the next gap look short. That is the machine's jitter, not the
  // server pinging early, and two late receipts among eight pings make two short gaps.
  EXPECT_GE(gaps[gaps.size() / 2], period - absl::Milliseconds(30))
      << "median gap; idle since " << idle_from;
  EXPECT_LE(gaps[gaps.size() / 2], period * 1.5) << "median gap; idle since " << idle_from;

  // One worker stuck in the handler for 1.5 s: no ping from one period after it began (a round
  // that checked before may still ping) until it is free; then the pings resume.
  const absl::Duration stall = absl::Milliseconds(1500);
  const std::string stall_request = absl::StrCat(absl::ToInt64Milliseconds(stall));
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect("127.0.0.1", ReadPort(port_file), absl::Seconds(20));
  ASSERT_TRUE(c.ok());
  const absl::Time stuck_from = absl::Now();
  EXPECT_EQ(Reply(**c, stall_request), stall_request);
  const absl::Time stuck_until = absl::Now();
  ASSERT_GE(stuck_until - stuck_from, stall);
  // The stall cannot begin before stuck_from, so it lasts at least until stuck_from + stall.
  // Not until stuck_until: that is when this thread read the reply, and the freed worker may
  // turn and the watchdog ping before then.
  for (absl::Time ping : notify.Times("WATCHDOG=1")) {
    EXPECT_FALSE(ping > stuck_from + 2 * period + absl::Milliseconds(100) &&
                 ping < stuck_from + stall)
        << "a ping " << (ping - stuck_from) << " into a stall of " << stall << " (the reply read "
        << (stuck_until - stuck_from) << " after the request)";
  }
  EXPECT_TRUE(notify.WaitFor("WATCHDOG=1", absl::Seconds(10), stuck_until));
  EXPECT_THAT(server.Log(), HasSubstr("has not turned"));
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

// systemd-analyze verify: every key known and well-formed, every referenced unit present. The
// service's ExecStart must name an executable that exists: the test points it at this build's.
TEST(UnitFilesTest, SystemdAnalyzeVerifyPasses) {
  const std::string dir = TempPath("units");
  const std::string binary = RunfilePath("server/server");
  const auto [made, made_out] = RunCommand(absl::StrCat(
      "mkdir -p ", dir, " && cp ", RunfilePath("deploy/systemd"), "/*.s* ", dir, " && sed -i ",
      "'s|/usr/local/bin/tcp_server|", binary, "|' ", dir, "/tcp_server.service"));
  ASSERT_EQ(made, 0) << made_out;
  const auto [status, output] = RunCommand(absl::StrCat(
      "cd ", dir, " && systemd-analyze verify --man=no tcp_server.service tcp_server.socket "
      "tcp_server-admin.socket"));
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "warnings are failures here";
}

}  // namespace
}  // namespace tests
