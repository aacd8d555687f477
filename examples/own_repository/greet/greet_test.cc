#include "gtest/gtest.h"
#include "handlers/handler_testing.h"

namespace {

TEST(GreetTest, SaysHello) {
  EXPECT_EQ(handlers::HandleWithRegistered("greet", "world").value_or("<error>"),
            "hello, world");
  EXPECT_EQ(handlers::HandleWithRegistered("greet", "").value_or("<error>"), "hello, ");
}

}  // namespace
