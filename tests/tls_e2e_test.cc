// TLS end to end, serving (docs/tls.md): the client library, Python's ssl
// module around the seed's struct.pack framing, `openssl s_client` and the client binary get
// their replies; handlers see who the client is; bad files stop the server. What is refused
// and bounded is in tls_refusal_test.cc.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/test_util.h"
#include "tests/tls_test_util.h"
#include "tls/context.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

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
