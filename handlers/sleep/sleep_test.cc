#include "handlers/sleep/sleep.h"

#include <chrono>
#include <memory>
#include <thread>

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"
#include "handlers/registry.h"

namespace handlers {
namespace {

TEST(SleepHandlerTest, SleepsThenEchoesThePayload) {
  Wakeup wakeup;
  SleepHandler sleep(kMaxSleepMillis, nullptr, &wakeup);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(HandleToString(sleep, "30").value_or("<error>"), "30");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
  EXPECT_EQ(HandleToString(sleep, "0").value_or("<error>"), "0");
}

TEST(SleepHandlerTest, AnythingButMillisecondsInRangeIsInvalid) {
  Wakeup wakeup;
  SleepHandler sleep(100, nullptr, &wakeup);
  for (const char* bad : {"", "-1", "101", "1.5", "12a", " 5", "99999999999", "10000"}) {
    absl::StatusOr<std::string> reply = HandleToString(sleep, bad);
    EXPECT_TRUE(absl::IsInvalidArgument(reply.status())) << "'" << bad << "'";
  }
  EXPECT_EQ(HandleToString(sleep, "100").value_or("<error>"), "100");
}

TEST(SleepHandlerTest, ChecksOnTheLoopAndSleepsInAnOffloadedCall) {
  Wakeup wakeup;
  SleepHandler sleep(100, nullptr, &wakeup);
  TestConnection connection(sleep);
  EXPECT_EQ(connection.Send("bad"), TestConnection::How::kError);  // refused before any wait
  EXPECT_EQ(connection.Send("5"), TestConnection::How::kOffloaded);
  EXPECT_EQ(connection.Await(1).value_or("<error>"), "5");
  EXPECT_EQ(connection.misuses(), 0);
}

TEST(SleepHandlerTest, AWakeupCutsSleepsShortAndLaterOnesReturnAtOnce) {
  Wakeup wakeup;
  SleepHandler sleep(kMaxSleepMillis, nullptr, &wakeup);
  std::thread waker([&] { wakeup.WakeAll(); });
  // However the waker and this sleep interleave, the sleep ends woken, not after 10 s.
  EXPECT_TRUE(absl::IsUnavailable(HandleToString(sleep, "10000").status()));
  waker.join();
  EXPECT_TRUE(absl::IsUnavailable(HandleToString(sleep, "10000").status()));
}

TEST(SleepHandlerTest, TheRegisteredServiceChecksItsFlagAndCounts) {
  const HandlerInfo* info = HandlerRegistry::Global().Find("sleep");
  ASSERT_NE(info, nullptr);
  std::unique_ptr<Service> service = info->new_service();
  TestStartContext context;
  ASSERT_TRUE(service->Start(context).ok());
  EXPECT_EQ(HandleToString(*service->NewHandler({}), "1").value_or("<error>"), "1");
  EXPECT_EQ(context.counter("sleeps")->value(), 1);
  service->Drain();
  EXPECT_TRUE(absl::IsUnavailable(HandleToString(*service->NewHandler({}), "1").status()));
}

}  // namespace
}  // namespace handlers
