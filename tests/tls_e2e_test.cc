// TLS end to end (docs/tls.md, SPEC section 14): certificates made at test time by
// tests/tls/make_certs.sh; servers on 127.0.0.1 port 0; clients: this project's client library,
// Python's ssl module around the seed's struct.pack framing, and `openssl s_client`.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/test_util.h"
#include "tls/context.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

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
std::string Cert(const std::string& name) { return CertDir() + "/" + name; }

std::vector<std::string> TlsFlags(const std::string& handler, bool mutual) {
  std::vector<std::string> flags = {"--handler=" + handler, "--workers=2",
                                    "--tls_cert=" + Cert("server.pem"),
                                    "--tls_key=" + Cert("server.key")};
  if (mutual) flags.push_back("--tls_client_ca=" + Cert("ca.pem"));
  return flags;
}

ServerProcess StartTls(const std::string& handler, bool mutual,
                       std::vector<std::string> extra = {}) {
  std::vector<std::string> flags = TlsFlags(handler, mutual);
  flags.insert(flags.end(), extra.begin(), extra.end());
  absl::StatusOr<ServerProcess> server = ServerProcess::Start(flags, "tests/test_server");
  EXPECT_TRUE(server.ok()) << server.status();
  return std::move(server).value();
}

// A client context trusting the test CA; with `identity` ("client", "expired", "other"), it
// presents that certificate.
std::unique_ptr<tls::Context> ClientContext(const std::string& identity = "") {
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

TEST(TlsE2eTest, ClientLibraryGetsEchoAndUppercaseReplies) {
  ServerProcess echo = StartTls("echo", /*mutual=*/false);
  ServerProcess upper = StartTls("uppercase", /*mutual=*/false);
  auto context = ClientContext();
  ASSERT_NE(context, nullptr);
  auto c = ConnectTls(echo.port(), *context);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->tls()->version(), "TLSv1.3");
  // Pipelined, and one reply larger than many TLS records.
  const std::string large(300'000, 'x');
  ASSERT_TRUE((*c)->Send("hello").ok());
  ASSERT_TRUE((*c)->Send(large).ok());
  ASSERT_TRUE((*c)->Send("").ok());
  EXPECT_EQ(PayloadOf((*c)->Receive()), "hello");
  EXPECT_EQ(PayloadOf((*c)->Receive()), large);
  EXPECT_EQ(PayloadOf((*c)->Receive()), "");
  EXPECT_EQ(CallTls(upper.port(), *context, "hello, tls"), "HELLO, TLS");
}

// The seed's client, unchanged but for ssl.wrap_socket: struct.pack('>I', len) + payload.
TEST(TlsE2eTest, PythonSslClientGetsEchoAndUppercaseReplies) {
  ServerProcess echo = StartTls("echo", /*mutual=*/true);
  ServerProcess upper = StartTls("uppercase", /*mutual=*/true);
  const std::string script = absl::StrCat(R"PY(
import socket, ssl, struct, sys
def recv_exact(s, n):
    data = b''
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk: raise EOFError('closed')
        data += chunk
    return data
ctx = ssl.create_default_context(cafile=')PY", Cert("ca.pem"), R"PY(')
ctx.load_cert_chain(')PY", Cert("client.pem"), "', '", Cert("client.key"), R"PY(')
for port in sys.argv[1:]:
    with socket.create_connection(('127.0.0.1', int(port)), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname='localhost') as s:
            for msg in (b'hello', b'mixed Case 123'):
                s.sendall(struct.pack('>I', len(msg)) + msg)
                (length,) = struct.unpack('>I', recv_exact(s, 4))
                print(recv_exact(s, length).decode())
)PY");
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/seed_tls_client.py");
  std::ofstream(path) << script;
  const auto [status, output] =
      RunCommand(absl::StrCat("python3 ", path, " ", echo.port(), " ", upper.port()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "hello\nmixed Case 123\nHELLO\nMIXED CASE 123\n");
}

// openssl s_client with a pipe on each side: write a frame, read until its reply has come.
std::string SClientCall(int port, const std::vector<std::string>& extra, absl::string_view frame,
                        size_t reply_bytes) {
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) return "<pipe failed>";
  std::vector<std::string> args = {"openssl", "s_client", "-connect",
                                   absl::StrCat("127.0.0.1:", port), "-CAfile", Cert("ca.pem"),
                                   "-verify_return_error", "-quiet", "-servername", "localhost"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(to_child[0], STDIN_FILENO);
    dup2(from_child[1], STDOUT_FILENO);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO);
    close(to_child[1]);
    close(from_child[0]);
    execvp("openssl", argv.data());
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  (void)!write(to_child[1], frame.data(), frame.size());
  std::string reply;
  const int64_t deadline = common::MonotonicNanos() + 20'000'000'000;
  while (reply.size() < reply_bytes && common::MonotonicNanos() < deadline) {
    pollfd p{from_child[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(from_child[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    reply.append(buffer, n);
  }
  close(to_child[1]);  // s_client ends on end of input
  close(from_child[0]);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  return reply;
}

std::string Framed(absl::string_view payload) {
  protocol::Buffer frame;
  protocol::AppendFrame(payload, &frame);
  return std::string(frame.view());
}

TEST(TlsE2eTest, OpensslSClientGetsEchoAndUppercaseReplies) {
  ServerProcess echo = StartTls("echo", /*mutual=*/true);
  ServerProcess upper = StartTls("uppercase", /*mutual=*/true);
  const std::vector<std::string> identity = {"-cert", Cert("client.pem"), "-key", Cert("client.key")};
  EXPECT_EQ(SClientCall(echo.port(), identity, Framed("from s_client"), 4 + 13),
            Framed("from s_client"));
  EXPECT_EQ(SClientCall(upper.port(), identity, Framed("from s_client"), 4 + 13),
            Framed("FROM S_CLIENT"));
}

// What a handler sees: whether the connection is TLS, and the client certificate's subject.
TEST(TlsE2eTest, HandlerSeesTheClientCertificateSubject) {
  ServerProcess server = StartTls("whoami", /*mutual=*/true);
  auto context = ClientContext("client");
  ASSERT_NE(context, nullptr);
  EXPECT_EQ(CallTls(server.port(), *context, "who"), "tls=1 subject=O=Example,CN=client-1");
  // Without --tls_client_ca a client need not present one, and the handler sees none.
  ServerProcess one_way = StartTls("whoami", /*mutual=*/false);
  auto anonymous = ClientContext();
  EXPECT_EQ(CallTls(one_way.port(), *anonymous, "who"), "tls=1 subject=");
}

// Under --tls_client_ca: no certificate, an expired one, and one from another CA are each
// refused, counted by reason, and a client with a good certificate is served throughout.
TEST(TlsE2eTest, ClientsWithoutAGoodCertificateAreRefusedAndOthersServed) {
  ServerProcess server = StartTls("echo", /*mutual=*/true);
  auto good = ClientContext("client");
  ASSERT_NE(good, nullptr);
  auto served = ConnectTls(server.port(), *good);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(PayloadOf((*served)->Call("before")), "before");

  for (const std::string identity : {"", "expired", "other"}) {
    SCOPED_TRACE("client certificate: " + (identity.empty() ? "none" : identity));
    auto context = ClientContext(identity);
    ASSERT_NE(context, nullptr);
    // With TLS 1.3 the client may finish its side of the handshake before the server has
    // checked its certificate: the refusal then arrives as an alert where the reply would.
    const std::string answer = CallTls(server.port(), *context, "let me in");
    EXPECT_THAT(answer, HasSubstr("<no")) << answer;
    EXPECT_THAT(answer, HasSubstr("alert")) << answer;
    EXPECT_EQ(PayloadOf((*served)->Call("meanwhile")), "meanwhile");
  }
  ASSERT_TRUE(WaitUntil([&] {
    std::map<std::string, int64_t> stats = TlsStats(server, *good);
    return stats["tls_handshakes_failed_no_certificate"] == 1 &&
           stats["tls_handshakes_failed_bad_certificate"] == 2;
  })) << server.Log();
  const std::string log = server.Log();
  EXPECT_THAT(log, HasSubstr("failed (no_certificate)"));
  EXPECT_THAT(log, HasSubstr("certificate has expired"));
  EXPECT_THAT(log, HasSubstr("unable to get local issuer certificate"));
}

// A client that checks the server: a CA that did not sign it, or a name it does not carry.
TEST(TlsE2eTest, ClientRefusesAServerItCannotVerify) {
  ServerProcess server = StartTls("echo", /*mutual=*/false);
  auto wrong_ca = tls::Context::ForClient({.ca_file = Cert("other-ca.pem"), .server_name = "localhost"});
  ASSERT_TRUE(wrong_ca.ok());
  EXPECT_THAT(CallTls(server.port(), **wrong_ca, "x"), HasSubstr("certificate verify failed"));
  auto wrong_name = tls::Context::ForClient({.ca_file = Cert("ca.pem"), .server_name = "example.com"});
  ASSERT_TRUE(wrong_name.ok());
  EXPECT_THAT(CallTls(server.port(), **wrong_name, "x"), HasSubstr("hostname mismatch"));
}

// Plain text on a TLS port is never answered: the connection is closed and counted.
TEST(TlsE2eTest, PlainTextClientIsClosedAndNeverAnswered) {
  ServerProcess server = StartTls("echo", /*mutual=*/false);
  auto plain = ConnectTo(server.port());
  ASSERT_NE(plain, nullptr);
  absl::StatusOr<client::Client::Reply> reply = plain->Call("hello in the clear");
  EXPECT_FALSE(reply.ok()) << "answered: " << reply->payload;
  auto context = ClientContext();
  ASSERT_TRUE(WaitUntil([&] { return TlsStats(server, *context)["tls_handshakes_failed_protocol"] == 1; }))
      << server.Log();
  EXPECT_THAT(server.Log(), HasSubstr("wrong version number"));
}

// 1,000 clients that open TCP and never start their handshake are closed by the frame
// timeout; a TLS client is served while they hold their connections.
TEST(TlsE2eTest, ClientsThatNeverStartTheHandshakeAreClosedByTheFrameTimeout) {
  rlimit limit;
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  constexpr int kSilent = 1000;
  if (limit.rlim_cur < kSilent + 100) GTEST_SKIP() << "descriptor limit " << limit.rlim_cur;
  ServerProcess server = StartTls("echo", /*mutual=*/false, {"--frame_timeout_ms=2000"});
  auto context = ClientContext();
  ASSERT_NE(context, nullptr);

  std::vector<int> silent;
  for (int i = 0; i < kSilent; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(server.port());
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    silent.push_back(fd);
  }
  EXPECT_EQ(CallTls(server.port(), *context, "served meanwhile"), "served meanwhile");
  ASSERT_TRUE(WaitUntil([&] { return TlsStats(server, *context)["connections_closed_frame_timeout"] == kSilent; },
                        absl::Seconds(60)))
      << server.Log();
  // Each silent connection sees the server's close: end of stream, nothing else.
  for (int fd : silent) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 10'000), 1);
    char byte;
    EXPECT_LE(read(fd, &byte, 1), 0);
    close(fd);
  }
}

// After its handshake, a client that sends part of a TLS record and stops: the bytes sit in
// OpenSSL, not in the frame decoder, and the frame timeout still closes the connection.
TEST(TlsE2eTest, PartOfARecordIsBoundByTheFrameTimeout) {
  ServerProcess server = StartTls("echo", /*mutual=*/false, {"--frame_timeout_ms=1000"});
  auto context = ClientContext();
  ASSERT_NE(context, nullptr);
  auto c = ConnectTls(server.port(), *context);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(PayloadOf((*c)->Call("whole")), "whole");
  // An application-data record header announcing 16 KiB, and 100 bytes of it, past OpenSSL.
  std::string partial = {'\x17', '\x03', '\x03', '\x40', '\x00'};
  partial.append(100, 'r');
  ASSERT_EQ(send((*c)->fd(), partial.data(), partial.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial.size()));
  ASSERT_TRUE(WaitUntil([&] {
    return TlsStats(server, *context)["connections_closed_frame_timeout"] == 1;
  })) << server.Log();
  absl::StatusOr<client::Client::Reply> reply = (*c)->Receive();  // closed, nothing answered
  EXPECT_FALSE(reply.ok()) << reply->payload;
}

// The client binary speaks TLS in each of its modes, and says why when it cannot.
TEST(TlsE2eTest, ClientBinaryInEveryModeOverMutualTls) {
  ServerProcess server = StartTls("uppercase", /*mutual=*/true);
  const std::string client = absl::StrCat(
      RunfilePath("client/client"), " --port=", server.port(), " --tls_ca=", Cert("ca.pem"),
      " --tls_server_name=localhost");
  const std::string identity =
      absl::StrCat(" --tls_cert=", Cert("client.pem"), " --tls_key=", Cert("client.key"));

  struct Case {
    std::string command;
    int exit_status;
    std::vector<std::string> output_has;
  };
  const std::vector<Case> cases = {
      {client + identity + " one two", 0, {"ONE\nTWO\n"}},
      {"printf 'three\\nfour\\n' | " + client + identity, 0, {"THREE\nFOUR\n"}},
      {client + identity + " --bench --connections=4 --pipeline=8 --requests=4000 --verify=uppercase",
       0, {"requests     4000", "mismatches   0"}},
      {client + identity + " --connect_rate --requests=20 --tls_resume", 0, {"connections  20 in"}},
      // Refused: no certificate (the server's alert named), a server name the certificate does
      // not carry (named), and a file that cannot be read (a usage error naming the flag).
      {client + " hello", 1, {"certificate required"}},
      {client + identity + " --tls_server_name=example.com hello", 1, {"hostname mismatch"}},
      {client + " --tls_cert=/nonexistent.pem --tls_key=/x hello", 2, {"--tls_cert=/nonexistent.pem"}},
  };
  for (const Case& c : cases) {
    const auto [status, output] = RunCommand(c.command);
    EXPECT_EQ(status, c.exit_status) << c.command << "\n" << output;
    for (const std::string& expected : c.output_has) {
      EXPECT_THAT(output, HasSubstr(expected)) << c.command;
    }
  }
}

TEST(TlsE2eTest, CertificateErrorsAtStartUpExit2NamingTheFlagAndTheFile) {
  struct Case {
    std::vector<std::string> flags;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"--tls_cert=/nonexistent.pem", "--tls_key=" + Cert("server.key")},
       "--tls_cert=/nonexistent.pem: cannot load the certificate"},
      {{"--tls_cert=" + Cert("server.pem"), "--tls_key=/nonexistent.key"},
       "--tls_key=/nonexistent.key: cannot load the private key"},
      {{"--tls_cert=" + Cert("server.pem"), "--tls_key=" + Cert("client.key")},
       "--tls_key=" + Cert("client.key") + ": cannot load the private key: error:05800074:x509 "
       "certificate routines::key values mismatch"},
      {{"--tls_cert=" + Cert("server.pem"), "--tls_key=" + Cert("server.key"),
        "--tls_client_ca=" + Cert("server.key")},
       "--tls_client_ca=" + Cert("server.key") + ": cannot load the CA certificates"},
      {{"--tls_cert=" + Cert("server.pem")}, "--tls_cert and --tls_key go together"},
  };
  for (const Case& c : cases) {
    std::string command = RunfilePath("server/server") + " --port=0";
    for (const std::string& flag : c.flags) absl::StrAppend(&command, " ", flag);
    const auto [status, output] = RunCommand(command);
    EXPECT_EQ(status, 2) << command << "\n" << output;
    EXPECT_THAT(output, HasSubstr(c.expected)) << command;
  }
}

}  // namespace
}  // namespace tests
