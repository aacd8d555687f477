// Helpers of the proxy's end-to-end tests (proxy_e2e_test, proxy_backends_e2e_test): backends
// and a proxy in front of them as processes, a pipelining client, a fake backend that
// misbehaves on purpose, and the proxy's /metrics.
//
//   std::vector<ServerProcess> backends = StartBackends(3, {"--handler=echo"});
//   ServerProcess proxy = StartProxy(PortsOf(backends), {"--proxy_retry=all"});
//   EXPECT_EQ(Pipeline(*ConnectTo(proxy.port()), {"a", "b"}), (std::vector<std::string>{"a", "b"}));
#ifndef TESTS_PROXY_TEST_UTIL_H_
#define TESTS_PROXY_TEST_UTIL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "common/testing/loopback.h"
#include "tests/server_process.h"

namespace tests {

// `n` servers with `flags` and one worker each.
std::vector<ServerProcess> StartBackends(int n, const std::vector<std::string>& flags);
std::vector<int> PortsOf(const std::vector<ServerProcess>& servers);
// A proxy (--handler=proxy) in front of 127.0.0.1:`backends`, with `flags`.
ServerProcess StartProxy(const std::vector<int>& backends, std::vector<std::string> flags);

// Sends the frames at once on `c`, then reads their replies: the payloads, or "<error: ...>".
std::vector<std::string> Pipeline(client::Client& c, const std::vector<std::string>& requests);

// A listening socket that accepts and then does `serve` with each connection, on its thread.
class FakeBackend {
 public:
  explicit FakeBackend(std::function<void(int fd)> serve);
  ~FakeBackend();
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  std::function<void(int)> serve_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::vector<int> fds_;  // the accepting thread's
  std::thread thread_;
};

// The admin port's /metrics page ("" if it did not answer).
std::string Metrics(int admin_port);
// tcp_server_buffer_memory_bytes from /metrics, or -1.
int64_t BufferMemory(int admin_port);
// The value of `series` (a metric's name and labels, as /metrics prints them) on `page`, or -1.
int64_t Sample(const std::string& page, const std::string& series);
// A port nothing listens on: connects to it are refused.
using common::testing::FreePort;

}  // namespace tests

#endif  // TESTS_PROXY_TEST_UTIL_H_
