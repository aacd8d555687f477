#include "tests/proxy_test_util.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "common/testing/loopback.h"
#include "tests/test_util.h"

namespace tests {

namespace {

std::string Addresses(const std::vector<int>& ports) {
  std::vector<std::string> parts;
  for (int port : ports) parts.push_back(absl::StrCat("127.0.0.1:", port));
  return absl::StrJoin(parts, ",");
}

}  // namespace

std::vector<ServerProcess> StartBackends(int n, const std::vector<std::string>& flags) {
  std::vector<ServerProcess> backends;
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> f = flags;
    f.push_back("--workers=1");
    backends.push_back(ServerProcess::Start(f).value());
  }
  return backends;
}

std::vector<int> PortsOf(const std::vector<ServerProcess>& servers) {
  std::vector<int> ports;
  for (const ServerProcess& s : servers) ports.push_back(s.port());
  return ports;
}

ServerProcess StartProxy(const std::vector<int>& backends, std::vector<std::string> flags) {
  flags.push_back("--handler=proxy");
  flags.push_back("--proxy_backends=" + Addresses(backends));
  return ServerProcess::Start(flags).value();
}

std::vector<std::string> Pipeline(client::Client& c, const std::vector<std::string>& requests) {
  std::string bytes;
  for (const std::string& r : requests) bytes += Frame(r);
  std::vector<std::string> replies;
  if (!c.SendRaw(bytes).ok()) return replies;
  for (size_t i = 0; i < requests.size(); ++i) {
    absl::StatusOr<client::Client::Reply> reply = c.Receive();
    if (!reply.ok()) break;
    replies.push_back(reply->is_error ? "<error: " + reply->payload + ">" : reply->payload);
  }
  return replies;
}

FakeBackend::FakeBackend(std::function<void(int fd)> serve) : serve_(std::move(serve)) {
  listener_ = common::testing::ListenOnLoopback(&port_, /*backlog=*/64);
  EXPECT_GE(listener_, 0);
  thread_ = std::thread([this] {
    while (true) {
      const int fd = accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      ++accepted_;
      serve_(fd);
      fds_.push_back(fd);
    }
  });
}

FakeBackend::~FakeBackend() {
  shutdown(listener_, SHUT_RDWR);
  close(listener_);
  thread_.join();
  for (int fd : fds_) close(fd);
}

std::string Metrics(int admin_port) {
  httplib::Client http("127.0.0.1", admin_port);
  http.set_read_timeout(10);
  httplib::Result result = http.Get("/metrics");
  return result ? result->body : "";
}

int64_t BufferMemory(int admin_port) {
  const std::string page = Metrics(admin_port);
  const std::string name = "\ntcp_server_buffer_memory_bytes ";
  const size_t at = page.find(name);
  return at == std::string::npos ? -1 : std::atoll(page.c_str() + at + name.size());
}

int64_t Sample(const std::string& page, const std::string& series) {
  const size_t at = page.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::atoll(page.c_str() + at + series.size() + 2);
}

}  // namespace tests
