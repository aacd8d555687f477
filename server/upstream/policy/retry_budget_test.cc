// RetryBudget's promises, on a simulated clock: retries are at most ratio * calls plus the
// floor in a window, the floor alone serves a quiet client, and old calls and retries age out.
#include "server/upstream/policy/retry_budget.h"

#include <cstdint>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace server {
namespace upstream {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1000 * kMs;

RetryBudget::Options Opts(double ratio, int min_retries) {
  RetryBudget::Options options;
  options.ratio = ratio;
  options.min_retries = min_retries;
  options.window = absl::Seconds(10);
  return options;
}

int Retries(RetryBudget& budget, int64_t now_ns, int tries) {
  int granted = 0;
  for (int i = 0; i < tries; ++i) granted += budget.TryRetry(now_ns);
  return granted;
}

TEST(RetryBudgetTest, RetriesAreAtMostTheRatioOfCalls) {
  RetryBudget budget(Opts(0.2, 0));
  EXPECT_FALSE(budget.TryRetry(0)) << "no calls, no floor";
  for (int i = 0; i < 100; ++i) budget.OnCall(i * kMs);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(budget.TryRetry(100 * kMs)) << i;
  EXPECT_FALSE(budget.TryRetry(100 * kMs));
  EXPECT_EQ(budget.retries_in_window(100 * kMs), 20);
  EXPECT_EQ(budget.calls_in_window(100 * kMs), 100);
  // Refused retries are not counted; five more calls earn one more.
  for (int i = 0; i < 5; ++i) budget.OnCall(200 * kMs);
  EXPECT_TRUE(budget.TryRetry(200 * kMs));
  EXPECT_FALSE(budget.TryRetry(200 * kMs));
}

TEST(RetryBudgetTest, TheFloorAloneAllowsMinRetriesWithNoCalls) {
  RetryBudget budget(Opts(0.2, 7));
  EXPECT_EQ(Retries(budget, 0, 10), 7);
  EXPECT_EQ(budget.calls_in_window(0), 0);
}

TEST(RetryBudgetTest, FloorAndRatioAdd) {
  RetryBudget budget(Opts(0.5, 3));
  for (int i = 0; i < 10; ++i) budget.OnCall(0);
  EXPECT_EQ(budget.allowed_in_window(0), 8);
  EXPECT_EQ(Retries(budget, 0, 20), 8);
}

TEST(RetryBudgetTest, CountsAgeOutAfterTheWindow) {
  RetryBudget budget(Opts(0.2, 2));
  for (int i = 0; i < 50; ++i) budget.OnCall(0);
  EXPECT_EQ(Retries(budget, 0, 100), 12);
  EXPECT_EQ(Retries(budget, 9 * kSecond, 1), 0) << "still inside the window";
  EXPECT_EQ(budget.calls_in_window(9 * kSecond + 999 * kMs), 50);

  EXPECT_EQ(budget.calls_in_window(10 * kSecond), 0);
  EXPECT_EQ(budget.retries_in_window(10 * kSecond), 0);
  EXPECT_EQ(Retries(budget, 10 * kSecond, 100), 2) << "the floor again";
}

// The window slides by tenths: calls of the oldest tenth are forgotten, the newer kept.
TEST(RetryBudgetTest, TheWindowSlidesByBuckets) {
  RetryBudget budget(Opts(1.0, 0));
  for (int i = 0; i < 10; ++i) budget.OnCall(0);
  for (int i = 0; i < 4; ++i) budget.OnCall(5 * kSecond);
  EXPECT_EQ(budget.calls_in_window(9 * kSecond), 14);
  EXPECT_EQ(budget.calls_in_window(10 * kSecond), 4);
  EXPECT_EQ(budget.calls_in_window(15 * kSecond), 0);
  EXPECT_EQ(Retries(budget, 10 * kSecond, 10), 4);
}

TEST(RetryBudgetTest, WorksAcrossNegativeTimes) {
  RetryBudget budget(Opts(0.2, 0));
  for (int i = 0; i < 10; ++i) budget.OnCall(-kMs);
  EXPECT_EQ(budget.calls_in_window(kMs), 10);
  EXPECT_EQ(Retries(budget, kMs, 5), 2);
  EXPECT_EQ(budget.calls_in_window(10 * kSecond), 0);
}

// A client making a call every 10 ms, a fraction of which fail and ask for a retry, through
// phases of health and outage: each retry granted keeps the window within its bound, and over
// the whole run retries stay near the ratio.
TEST(RetryBudgetTest, RetriesNeverExceedRatioTimesCallsPlusFloor) {
  constexpr int kFloor = 10;
  RetryBudget budget(Opts(0.2, kFloor));
  uint64_t rng = 12345;
  int64_t calls = 0, granted = 0;
  for (int64_t now = 0; now < 60 * kSecond; now += 10 * kMs) {
    budget.OnCall(now);
    ++calls;
    // Healthy (5% fail) for 20 s, an outage (every call fails, each retried up to 3 times)
    // for 20 s, then half failing.
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    const int fail_percent = now < 20 * kSecond ? 5 : now < 40 * kSecond ? 100 : 50;
    if (static_cast<int>((rng >> 33) % 100) >= fail_percent) continue;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (!budget.TryRetry(now)) break;
      ++granted;
      ASSERT_LE(budget.retries_in_window(now), budget.allowed_in_window(now)) << now;
      ASSERT_LE(budget.retries_in_window(now),
                0.2 * budget.calls_in_window(now) + kFloor + 1e-9)
          << now;
    }
  }
  // Six windows: at most a fifth of the calls plus six floors.
  EXPECT_LE(granted, calls / 5 + 6 * kFloor);
  EXPECT_GT(granted, calls / 10) << "the outage should have spent the budget";
}

}  // namespace
}  // namespace upstream
}  // namespace server
