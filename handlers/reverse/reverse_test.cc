#include "handlers/reverse/reverse.h"

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"

namespace handlers {
namespace {

TEST(ReverseHandlerTest, ReversesBytes) {
  ReverseHandler reverse;
  EXPECT_EQ(*HandleToString(reverse, "abc"), "cba");
  EXPECT_EQ(*HandleToString(reverse, ""), "");
  EXPECT_EQ(*HandleToString(reverse, std::string("\x01\x00\xff", 3)), std::string("\xff\x00\x01", 3));
}

TEST(ReverseHandlerTest, RegistersAsReverse) {
  EXPECT_EQ(HandleWithRegistered("reverse", "stressed").value_or("<error>"), "desserts");
}

}  // namespace
}  // namespace handlers
