#include "handlers/reverse/reverse.h"

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"
#include "handlers/registry.h"

namespace handlers {
namespace {

TEST(ReverseHandlerTest, ReversesBytes) {
  ReverseHandler reverse;
  EXPECT_EQ(*HandleToString(reverse, "abc"), "cba");
  EXPECT_EQ(*HandleToString(reverse, ""), "");
  EXPECT_EQ(*HandleToString(reverse, std::string("\x01\x00\xff", 3)), std::string("\xff\x00\x01", 3));
}

TEST(ReverseHandlerTest, RegistersAsReverse) {
  const HandlerInfo* info = HandlerRegistry::Global().Find("reverse");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(*HandleToString(*info->factory(HandlerContext{}), "stressed"), "desserts");
}

}  // namespace
}  // namespace handlers
