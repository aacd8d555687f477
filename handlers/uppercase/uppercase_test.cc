#include "handlers/uppercase/uppercase.h"

#include <string>

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"

namespace handlers {
namespace {

TEST(UppercaseHandlerTest, UppercasesAsciiLettersOnly) {
  UppercaseHandler upper;
  EXPECT_EQ(*HandleToString(upper, "Hello, world! 123 az{`"), "HELLO, WORLD! 123 AZ{`");
  EXPECT_EQ(*HandleToString(upper, ""), "");
}

TEST(UppercaseHandlerTest, EveryNonLowercaseByteIsUnchanged) {
  UppercaseHandler upper;
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string out = *HandleToString(upper, all);
  ASSERT_EQ(out.size(), 256u);
  for (int b = 0; b < 256; ++b) {
    const char expected = (b >= 'a' && b <= 'z') ? static_cast<char>(b - 32) : static_cast<char>(b);
    EXPECT_EQ(out[b], expected) << "byte " << b;
  }
}

TEST(UppercaseHandlerTest, Utf8StaysValid) {
  UppercaseHandler upper;
  EXPECT_EQ(*HandleToString(upper, "stra\xc3\x9f" "e caf\xc3\xa9"), "STRA\xc3\x9f" "E CAF\xc3\xa9");
}

TEST(UppercaseHandlerTest, RegistersAsUppercase) {
  EXPECT_EQ(HandleWithRegistered("uppercase", "abc").value_or("<error>"), "ABC");
}

}  // namespace
}  // namespace handlers
