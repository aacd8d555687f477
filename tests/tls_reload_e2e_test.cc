// Certificate rotation in a running server (SIGHUP, POST /reload): under a TLS load, rotating
// to a certificate from a new CA fails no request, new handshakes present the new certificate
// (openssl s_client checks it against each CA) and connections made before go on; a corrupt
// key keeps the old certificate serving, and the failure is counted.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/server_process.h"
#include "tests/test_util.h"
#include "tests/tls_test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

// Certificates from a CA named `ca_name`, in a directory of their own.
std::string MakeCerts(const std::string& dir, const std::string& ca_name) {
  const auto [status, output] = RunCommand(absl::StrCat(
      "CA_NAME='", ca_name, "' ", RunfilePath("tests/tls/make_certs.sh"), " ", dir));
  EXPECT_EQ(status, 0) << output;
  return dir;
}

// Replaces `to` with a copy of `from` in one rename, as a deployment tool would.
void Install(const std::string& from, const std::string& to) {
  const auto [status, output] = RunCommand(absl::StrCat("cp ", from, " ", to, ".new && mv ", to,
                                                        ".new ", to));
  ASSERT_EQ(status, 0) << output;
}

std::unique_ptr<tls::Context> Trusting(const std::string& ca_file) {
  absl::StatusOr<std::unique_ptr<tls::Context>> context =
      tls::Context::ForClient({.ca_file = ca_file, .server_name = "localhost"});
  EXPECT_TRUE(context.ok()) << context.status();
  return context.ok() ? std::move(*context) : nullptr;
}

// Whether openssl s_client completes a handshake that verifies against `ca_file`.
bool SClientVerifies(int port, const std::string& ca_file) {
  const auto [status, output] = RunCommand(absl::StrCat(
      "openssl s_client -connect 127.0.0.1:", port, " -servername localhost -CAfile ", ca_file,
      " -verify_return_error -brief </dev/null"));
  return status == 0 && absl::StrContains(output, "Verification: OK");
}

// A metric's value from /metrics (-1 if absent).
double Metric(int admin_port, const std::string& sample) {
  httplib::Client http("127.0.0.1", admin_port);
  httplib::Result page = http.Get("/metrics");
  if (!page) return -1;
  for (absl::string_view line : absl::StrSplit(page->body, '\n')) {
    if (absl::StartsWith(line, sample + " ")) {
      double value;
      if (absl::SimpleAtod(line.substr(sample.size() + 1), &value)) return value;
    }
  }
  return -1;
}

class TlsReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    old_ = MakeCerts(TempPath("old_ca"), "Old CA");
    new_ = MakeCerts(TempPath("new_ca"), "New CA");
    live_ = TempPath("live");
    ASSERT_EQ(RunCommand("mkdir -p " + live_).first, 0);
    Install(old_ + "/server.pem", live_ + "/server.pem");
    Install(old_ + "/server.key", live_ + "/server.key");
    both_ = TempPath("both_cas.pem");
    ASSERT_EQ(RunCommand(absl::StrCat("cat ", old_, "/ca.pem ", new_, "/ca.pem > ", both_)).first, 0);
    absl::StatusOr<ServerProcess> server = ServerProcess::Start(
        {"--handler=echo", "--workers=2", "--admin_port=0", "--tls_cert=" + live_ + "/server.pem",
         "--tls_key=" + live_ + "/server.key"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::make_unique<ServerProcess>(std::move(*server));
  }

  std::string old_, new_, live_, both_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(TlsReloadTest, RotatingToANewCaUnderLoadFailsNoRequest) {
  const int port = server_->port();
  ASSERT_TRUE(SClientVerifies(port, old_ + "/ca.pem"));
  ASSERT_FALSE(SClientVerifies(port, new_ + "/ca.pem"));
  std::unique_ptr<tls::Context> trust_old = Trusting(old_ + "/ca.pem");
  std::unique_ptr<tls::Context> trust_both = Trusting(both_);
  auto before = ConnectTls(port, *trust_old);  // made before the rotation, used after it
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE((*before)->Call("before").ok());

  // The load: each thread a new connection per request, and one kept connection.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      auto kept = ConnectTls(port, *trust_both);
      for (int i = 0; !stop; ++i) {
        const std::string payload = absl::StrCat("t", t, "-", i);
        absl::StatusOr<std::unique_ptr<client::Client>> fresh = ConnectTls(port, *trust_both);
        absl::StatusOr<client::Client::Reply> a =
            fresh.ok() ? (*fresh)->Call(payload) : absl::StatusOr<client::Client::Reply>(fresh.status());
        absl::StatusOr<client::Client::Reply> b =
            kept.ok() ? (*kept)->Call(payload) : absl::StatusOr<client::Client::Reply>(kept.status());
        for (const auto* r : {&a, &b}) {
          if (r->ok() && (*r)->payload == payload) {
            ++ok;
          } else {
            ++failed;
            ADD_FAILURE() << "thread " << t << ": " << (r->ok() ? (*r)->payload : r->status().ToString());
          }
        }
      }
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return ok >= 100; }, absl::Seconds(60)));

  Install(new_ + "/server.pem", live_ + "/server.pem");
  Install(new_ + "/server.key", live_ + "/server.key");
  server_->Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] {
    return Metric(server_->admin_port(), "tcp_server_tls_reloads_total{result=\"ok\"}") == 1;
  }));
  const int64_t at_rotation = ok;
  ASSERT_TRUE(WaitUntil([&] { return ok >= at_rotation + 100; }, absl::Seconds(60)));
  stop = true;
  for (std::thread& t : load) t.join();
  EXPECT_EQ(failed, 0);

  // New handshakes present the new certificate: it verifies against the new CA only.
  EXPECT_TRUE(SClientVerifies(port, new_ + "/ca.pem"));
  EXPECT_FALSE(SClientVerifies(port, old_ + "/ca.pem"));
  EXPECT_THAT(CallTls(port, *trust_old, "x"), ::testing::Not("x"));
  // The connection made before goes on with the old one.
  absl::StatusOr<client::Client::Reply> after = (*before)->Call("after");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->payload, "after");
  const double expiry = Metric(server_->admin_port(), "tcp_server_tls_certificate_expiry_seconds");
  const double now = absl::ToUnixSeconds(absl::Now());
  EXPECT_GT(expiry, now + 29 * 86400);  // make_certs.sh: 30 days
  EXPECT_LT(expiry, now + 31 * 86400);
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
}

TEST_F(TlsReloadTest, ACorruptNewKeyKeepsTheOldCertificateServing) {
  const int port = server_->port();
  const double expiry = Metric(server_->admin_port(), "tcp_server_tls_certificate_expiry_seconds");
  Install(new_ + "/server.pem", live_ + "/server.pem");
  {
    std::ofstream key(live_ + "/server.key", std::ios::trunc);
    key << "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
  }
  httplib::Client http("127.0.0.1", server_->admin_port());
  httplib::Result reload = http.Post("/reload", "", "text/plain");
  ASSERT_TRUE(reload);
  EXPECT_EQ(reload->status, 500);
  EXPECT_THAT(reload->body, HasSubstr("--tls_key="));
  server_->Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] {
    return Metric(server_->admin_port(), "tcp_server_tls_reloads_total{result=\"failed\"}") == 2;
  }));
  EXPECT_EQ(Metric(server_->admin_port(), "tcp_server_tls_reloads_total{result=\"ok\"}"), 0);
  EXPECT_EQ(Metric(server_->admin_port(), "tcp_server_tls_certificate_expiry_seconds"), expiry);
  // Still TLS, still the old certificate, for new handshakes.
  EXPECT_TRUE(SClientVerifies(port, old_ + "/ca.pem"));
  std::unique_ptr<tls::Context> trust_old = Trusting(old_ + "/ca.pem");
  EXPECT_EQ(CallTls(port, *trust_old, "still"), "still");
  EXPECT_THAT(server_->Log(), HasSubstr("TLS reload failed, the previous certificate stays"));
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace tests
