#include "handlers/sleep/sleep.h"

#include <chrono>

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"
#include "handlers/registry.h"

namespace handlers {
namespace {

TEST(SleepHandlerTest, SleepsThenEchoesThePayload) {
  SleepHandler sleep(kMaxSleepMillis, nullptr);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(HandleToString(sleep, "30").value_or("<error>"), "30");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
  EXPECT_EQ(HandleToString(sleep, "0").value_or("<error>"), "0");
}

TEST(SleepHandlerTest, AnythingButMillisecondsInRangeIsInvalid) {
  SleepHandler sleep(100, nullptr);
  for (const char* bad : {"", "-1", "101", "1.5", "12a", " 5", "99999999999", "10000"}) {
    absl::StatusOr<std::string> reply = HandleToString(sleep, bad);
    EXPECT_TRUE(absl::IsInvalidArgument(reply.status())) << "'" << bad << "'";
  }
  EXPECT_EQ(HandleToString(sleep, "100").value_or("<error>"), "100");
}

TEST(SleepHandlerTest, ChecksOnTheLoopAndSleepsInAnOffloadedCall) {
  SleepHandler sleep(100, nullptr);
  TestConnection connection(sleep);
  EXPECT_EQ(connection.Send("bad"), TestConnection::How::kError);  // refused before any wait
  EXPECT_EQ(connection.Send("5"), TestConnection::How::kOffloaded);
  EXPECT_EQ(connection.Await(1).value_or("<error>"), "5");
  EXPECT_EQ(connection.misuses(), 0);
}

TEST(SleepHandlerTest, RegistersItsHooks) {
  const HandlerInfo* info = HandlerRegistry::Global().Find("sleep");
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->start);
  EXPECT_TRUE(info->drain);
}

}  // namespace
}  // namespace handlers
