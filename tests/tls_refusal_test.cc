// TLS end to end, refusing and bounding (docs/tls.md): clients without a good
// certificate, servers a client cannot verify, plain text on a TLS port, and clients that stop
// in or after their handshake; others are served meanwhile.
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/test_util.h"
#include "tests/tls_test_util.h"
#include "tls/context.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

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
  constexpr int kSilent = 1000;
  rlimit limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max < kSilent + 100) {
    GTEST_SKIP() << "needs a descriptor hard limit (ulimit -Hn) of at least " << kSilent + 100
                 << " to hold " << kSilent << " connections; it is " << limit.rlim_max;
  }
  limit.rlim_cur = limit.rlim_max;  // the server, a child, inherits it
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
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

}  // namespace
}  // namespace tests
