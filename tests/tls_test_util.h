// Helpers of the TLS end-to-end tests (tls_e2e_test, tls_refusal_test): certificates made at
// test time by tests/tls/make_certs.sh, servers started with them, and TLS clients.
//
//   ServerProcess server = StartTls("echo", /*mutual=*/true);
//   auto context = ClientContext("client");       // presents client.pem
//   EXPECT_EQ(CallTls(server.port(), *context, "hi"), "hi");
#ifndef TESTS_TLS_TEST_UTIL_H_
#define TESTS_TLS_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/client.h"
#include "tests/server_process.h"
#include "tls/context.h"

namespace tests {

// A file made by make_certs.sh ("ca.pem", "server.key", ...), made once per test binary (which
// also ignores SIGPIPE then: TLS clients write with write(2), client/client.h).
std::string Cert(const std::string& name);

// The test server with `handler`, server.pem and, if `mutual`, --tls_client_ca=ca.pem.
ServerProcess StartTls(const std::string& handler, bool mutual,
                       std::vector<std::string> extra = {});

// A client context trusting the test CA, for "localhost"; with `identity` ("client",
// "expired", "other"), it presents that certificate. Null after a test failure.
std::unique_ptr<tls::Context> ClientContext(const std::string& identity = "");

absl::StatusOr<std::unique_ptr<client::Client>> ConnectTls(int port, const tls::Context& context);

// One request on a new TLS connection: the reply, or why there is none.
std::string CallTls(int port, const tls::Context& context, absl::string_view payload);

// The stats listener (TLS too), read through a client with `context`.
std::map<std::string, int64_t> TlsStats(const ServerProcess& server, const tls::Context& context);

}  // namespace tests

#endif  // TESTS_TLS_TEST_UTIL_H_
