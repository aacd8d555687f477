#include "tests/tls_test_util.h"

#include <signal.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace tests {

namespace {

// The certificates, made once for the whole test binary.
const std::string& CertDir() {
  static const std::string* dir = [] {
    signal(SIGPIPE, SIG_IGN);  // TLS clients write with write(2) (client/client.h)
    const char* tmp = std::getenv("TEST_TMPDIR");
    auto* d = new std::string(absl::StrCat(tmp ? tmp : "/tmp", "/certs"));
    const auto [status, output] = RunCommand(RunfilePath("tests/tls/make_certs.sh") + " " + *d);
    EXPECT_EQ(status, 0) << output;
    return d;
  }();
  return *dir;
}
std::vector<std::string> TlsFlags(const std::string& handler, bool mutual) {
  std::vector<std::string> flags = {"--handler=" + handler, "--workers=2",
                                    "--tls_cert=" + Cert("server.pem"),
                                    "--tls_key=" + Cert("server.key")};
  if (mutual) flags.push_back("--tls_client_ca=" + Cert("ca.pem"));
  return flags;
}

}  // namespace

std::string Cert(const std::string& name) { return CertDir() + "/" + name; }

ServerProcess StartTls(const std::string& handler, bool mutual,
                       std::vector<std::string> extra) {
  std::vector<std::string> flags = TlsFlags(handler, mutual);
  flags.insert(flags.end(), extra.begin(), extra.end());
  absl::StatusOr<ServerProcess> server = ServerProcess::Start(flags, "tests/test_server");
  EXPECT_TRUE(server.ok()) << server.status();
  return std::move(server).value();
}

// A client context trusting the test CA; with `identity` ("client", "expired", "other"), it
// presents that certificate.
std::unique_ptr<tls::Context> ClientContext(const std::string& identity) {
  tls::ClientConfig config{.ca_file = Cert("ca.pem"), .server_name = "localhost"};
  if (!identity.empty()) {
    config.cert_file = Cert(identity + ".pem");
    config.key_file = Cert(identity + ".key");
  }
  absl::StatusOr<std::unique_ptr<tls::Context>> context = tls::Context::ForClient(config);
  EXPECT_TRUE(context.ok()) << context.status();
  return context.ok() ? std::move(*context) : nullptr;
}

absl::StatusOr<std::unique_ptr<client::Client>> ConnectTls(int port, const tls::Context& context) {
  return client::Client::Connect("127.0.0.1", port, absl::Seconds(20),
                                 protocol::kDefaultMaxFrameBytes, &context);
}

// One request on a new TLS connection: the reply, or why there is none.
std::string CallTls(int port, const tls::Context& context, absl::string_view payload) {
  auto c = ConnectTls(port, context);
  if (!c.ok()) return absl::StrCat("<no connection: ", c.status().message(), ">");
  return PayloadOf((*c)->Call(payload));
}

// The stats listener speaks TLS too: read it through a client that presents `identity`.
std::map<std::string, int64_t> TlsStats(const ServerProcess& server, const tls::Context& context) {
  std::map<std::string, int64_t> stats;
  auto c = ConnectTls(server.stats_port(), context);
  if (!c.ok()) {
    ADD_FAILURE() << c.status();
    return stats;
  }
  absl::StatusOr<client::Client::Reply> reply = (*c)->Call("stats");
  if (!reply.ok()) {
    ADD_FAILURE() << reply.status();
    return stats;
  }
  for (absl::string_view line : absl::StrSplit(reply->payload, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    int64_t value;
    if (parts.size() == 2 && absl::SimpleAtoi(parts[1], &value)) stats[std::string(parts[0])] = value;
  }
  return stats;
}

}  // namespace tests
