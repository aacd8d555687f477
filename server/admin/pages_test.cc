#include "server/admin/pages.h"

#include "gtest/gtest.h"

namespace server {
namespace {

TEST(PagesTest, JsonStringEscapesWhatJsonRequires) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd\\te\"");
  EXPECT_EQ(JsonString(std::string("\x01", 1)), "\"\\u0001\"");
}

TEST(PagesTest, StatsJsonIsOneObjectOfNumbers) {
  EXPECT_EQ(StatsJson("frames_in 42\nworkers 2\n"), "{\"frames_in\":42,\"workers\":2}\n");
  EXPECT_EQ(StatsJson(""), "{}\n");
  EXPECT_EQ(StatsJson("name text\n"), "{\"name\":\"text\"}\n");  // not a number: a string
}

TEST(PagesTest, ConnectionsAsLinesAndAsJson) {
  ConnectionReport c;
  c.id = 7;
  c.worker = 1;
  c.peer = "127.0.0.1:5000";
  c.age_ms = 12;
  c.state = "open";
  c.bytes_in = 9;
  c.bytes_out = 8;
  c.pending_output = 3;
  c.requests_in_flight = 2;
  c.tls = true;
  c.tls_subject = "O=Example,CN=\"quoted\"";
  EXPECT_EQ(ConnectionsPage({c}, /*complete=*/true, /*json=*/false),
            "id=7 worker=1 peer=127.0.0.1:5000 age_ms=12 state=open bytes_in=9 bytes_out=8 "
            "pending_output=3 requests_in_flight=2 tls=1 tls_subject=\"O=Example,CN=\\\"quoted\\\"\"\n");
  EXPECT_EQ(ConnectionsPage({c, c}, /*complete=*/false, /*json=*/true),
            "{\"complete\":false,\"connections\":[\n"
            "{\"id\":7,\"worker\":1,\"peer\":\"127.0.0.1:5000\",\"age_ms\":12,\"state\":\"open\","
            "\"bytes_in\":9,\"bytes_out\":8,\"pending_output\":3,\"requests_in_flight\":2,"
            "\"tls\":true,\"tls_subject\":\"O=Example,CN=\\\"quoted\\\"\"},\n"
            "{\"id\":7,\"worker\":1,\"peer\":\"127.0.0.1:5000\",\"age_ms\":12,\"state\":\"open\","
            "\"bytes_in\":9,\"bytes_out\":8,\"pending_output\":3,\"requests_in_flight\":2,"
            "\"tls\":true,\"tls_subject\":\"O=Example,CN=\\\"quoted\\\"\"}\n]}\n");
  EXPECT_EQ(ConnectionsPage({}, /*complete=*/false, /*json=*/false).substr(0, 2), "# ");
}

}  // namespace
}  // namespace server
