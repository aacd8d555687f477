#include "handlers/echo/echo.h"

#include <string>

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"

namespace handlers {
namespace {

TEST(EchoHandlerTest, ReturnsPayloadUnchanged) {
  EchoHandler echo;
  EXPECT_EQ(*HandleToString(echo, "hello"), "hello");
  EXPECT_EQ(*HandleToString(echo, ""), "");
  const std::string binary("\0\xff\x80 ok", 6);
  EXPECT_EQ(*HandleToString(echo, binary), binary);
}

TEST(EchoHandlerTest, RegistersAsEcho) {
  EXPECT_EQ(HandleWithRegistered("echo", "via registry").value_or("<error>"), "via registry");
}

}  // namespace
}  // namespace handlers
