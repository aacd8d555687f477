#include "common/log_limiter.h"

#include "gtest/gtest.h"

namespace common {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(LogLimiterTest, AllowsNPerSecondAndCountsTheRest) {
  LogLimiter limiter(2);
  int suppressed = -1;
  EXPECT_TRUE(limiter.Allow(0, &suppressed));
  EXPECT_EQ(suppressed, 0);
  EXPECT_TRUE(limiter.Allow(1, &suppressed));
  EXPECT_FALSE(limiter.Allow(2, &suppressed));
  EXPECT_FALSE(limiter.Allow(3, &suppressed));
  EXPECT_TRUE(limiter.Allow(kSecond, &suppressed));  // a new second
  EXPECT_EQ(suppressed, 2);
  EXPECT_EQ(LogLimiter::Note(suppressed), " (2 similar lines suppressed)");
  EXPECT_TRUE(limiter.Allow(kSecond + 1, &suppressed));
  EXPECT_EQ(suppressed, 0);
  EXPECT_EQ(LogLimiter::Note(0), "");
}

}  // namespace
}  // namespace common
