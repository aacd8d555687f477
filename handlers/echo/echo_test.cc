#include "handlers/echo/echo.h"

#include <string>

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"
#include "handlers/registry.h"

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
  const HandlerInfo* info = HandlerRegistry::Global().Find("echo");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(*HandleToString(*info->factory(HandlerContext{}), "via registry"), "via registry");
}

}  // namespace
}  // namespace handlers
