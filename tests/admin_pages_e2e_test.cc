// The admin port's introspection pages against a real server: /connections (each connection
// with the bytes it sent, gathered on its worker), /logging (the verbosity changed at run time,
// and seen by the workers), /flags, /stats?format=json, POST-only /reload and /logging, and
// --admin_bind.
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::pair<int, std::string> Get(int port, const std::string& path,
                                const std::string& host = "127.0.0.1") {
  httplib::Client http(host, port);
  http.set_connection_timeout(5);
  httplib::Result result = http.Get(path.c_str());
  if (!result) return {-1, ""};
  return {result->status, result->body};
}

std::pair<int, std::string> Post(int port, const std::string& path) {
  httplib::Client http("127.0.0.1", port);
  httplib::Result result = http.Post(path.c_str(), "", "text/plain");
  if (!result) return {-1, ""};
  return {result->status, result->body};
}

// The lines of a text page that contain `text`.
std::vector<std::string> LinesWith(const std::string& page, const std::string& text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (absl::StrContains(line, text)) lines.emplace_back(line);
  }
  return lines;
}

std::string LocalPort(const client::Client& c) {
  sockaddr_storage address{};
  socklen_t size = sizeof(address);
  getsockname(c.fd(), reinterpret_cast<sockaddr*>(&address), &size);
  return absl::StrCat(":", ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port), " ");
}

TEST(AdminPagesTest, ConnectionsListsEachClientWithTheBytesItSent) {
  ServerProcess server = ServerProcess::Start({"--admin_port=0", "--workers=2"}).value();
  auto small = ConnectTo(server.port());
  auto large = ConnectTo(server.port());
  ASSERT_NE(small, nullptr);
  ASSERT_NE(large, nullptr);
  ASSERT_TRUE(small->Call("abc").ok());                               // 4 + 3 bytes
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(large->Call("hello world").ok());  // 2 x (4 + 11)

  const auto [status, page] = Get(server.admin_port(), "/connections");
  ASSERT_EQ(status, 200);
  std::vector<std::string> lines = LinesWith(page, "peer=127.0.0.1" + LocalPort(*small));
  ASSERT_EQ(lines.size(), 1u) << page;
  EXPECT_THAT(lines[0], HasSubstr(" bytes_in=7 bytes_out=7 "));
  EXPECT_THAT(lines[0], HasSubstr(" state=open "));
  EXPECT_THAT(lines[0], HasSubstr(" requests_in_flight=0 "));
  lines = LinesWith(page, "peer=127.0.0.1" + LocalPort(*large));
  ASSERT_EQ(lines.size(), 1u) << page;
  EXPECT_THAT(lines[0], HasSubstr(" bytes_in=30 bytes_out=30 "));

  const std::string json = Get(server.admin_port(), "/connections?format=json").second;
  EXPECT_THAT(json, HasSubstr("\"complete\":true"));
  EXPECT_THAT(json, HasSubstr("\"bytes_in\":30,\"bytes_out\":30,"));
  EXPECT_THAT(json, HasSubstr("\"bytes_in\":7,\"bytes_out\":7,"));
  // ?limit= bounds the list.
  EXPECT_EQ(LinesWith(Get(server.admin_port(), "/connections?limit=1").second, "id=").size(), 1u);
  EXPECT_EQ(Get(server.admin_port(), "/connections?limit=x").first, 400);
}

TEST(AdminPagesTest, LoggingChangesTheVerbosityTheWorkersUse) {
  ServerProcess server =
      ServerProcess::Start({"--admin_port=0", "--idle_timeout_ms=200"}).value();
  EXPECT_EQ(Get(server.admin_port(), "/logging"), std::make_pair(200, std::string("v=0\n")));
  // At v=0 an idle connection closes without a word (timeouts.cc logs it at VLOG(1)).
  auto quiet = ConnectTo(server.port());
  ASSERT_NE(quiet, nullptr);
  EXPECT_FALSE(quiet->Receive().ok());  // closed for idling
  EXPECT_THAT(server.Log(), Not(HasSubstr("closing idle connection")));

  EXPECT_EQ(Post(server.admin_port(), "/logging?v=1"), std::make_pair(200, std::string("v=1\n")));
  EXPECT_EQ(Get(server.admin_port(), "/logging").second, "v=1\n");
  EXPECT_THAT(Get(server.admin_port(), "/flags").second, HasSubstr("\n--v=1\n"));
  auto heard = ConnectTo(server.port());
  ASSERT_NE(heard, nullptr);
  EXPECT_FALSE(heard->Receive().ok());
  EXPECT_TRUE(WaitUntil([&] { return absl::StrContains(server.Log(), "closing idle connection"); }))
      << server.Log();

  EXPECT_EQ(Post(server.admin_port(), "/logging?v=high").first, 400);
  EXPECT_EQ(Post(server.admin_port(), "/logging?v=10").first, 400);
  EXPECT_EQ(Get(server.admin_port(), "/logging").second, "v=1\n");
}

TEST(AdminPagesTest, WhatChangesStateAnswersPostOnly) {
  ServerProcess server = ServerProcess::Start({"--admin_port=0"}).value();
  httplib::Client http("127.0.0.1", server.admin_port());
  httplib::Result get = http.Get("/reload");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  // Without TLS there is nothing to reload: 409, and the server goes on.
  const auto [status, body] = Post(server.admin_port(), "/reload");
  EXPECT_EQ(status, 409);
  EXPECT_THAT(body, HasSubstr("without --tls_cert"));
  httplib::Result put = http.Put("/logging?v=2", "", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_NE(put->status, 200);
  EXPECT_EQ(Get(server.admin_port(), "/logging").second, "v=0\n");
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(AdminPagesTest, FlagsAndStatsAsJson) {
  ServerProcess server =
      ServerProcess::Start({"--admin_port=0", "--workers=3", "--handler=uppercase"}).value();
  const std::string flags = Get(server.admin_port(), "/flags").second;
  EXPECT_THAT(flags, HasSubstr("\n--workers=3\n"));
  EXPECT_THAT(flags, HasSubstr("\n--handler=uppercase\n"));
  EXPECT_THAT(flags, HasSubstr("\n--max_connections=10000  # default\n"));
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Call("x").ok());
  const std::string json = Get(server.admin_port(), "/stats?format=json").second;
  EXPECT_TRUE(absl::StartsWith(json, "{\"")) << json;
  EXPECT_TRUE(absl::EndsWith(json, "}\n")) << json;
  EXPECT_THAT(json, HasSubstr("\"workers\":3,"));
  EXPECT_THAT(json, HasSubstr("\"frames_in\":1,"));
}

TEST(AdminPagesTest, TheAdminPortBindsWhereAdminBindSays) {
  ServerProcess by_default = ServerProcess::Start({"--admin_port=0"}).value();
  EXPECT_EQ(Get(by_default.admin_port(), "/healthz").first, 200);
  EXPECT_EQ(Get(by_default.admin_port(), "/healthz", "127.0.0.2").first, -1);  // loopback .1 only
  ServerProcess elsewhere =
      ServerProcess::Start({"--admin_port=0", "--admin_bind=127.0.0.2"}).value();
  EXPECT_EQ(Get(elsewhere.admin_port(), "/healthz", "127.0.0.2").first, 200);
  EXPECT_EQ(Get(elsewhere.admin_port(), "/healthz").first, -1);
}

}  // namespace
}  // namespace tests
