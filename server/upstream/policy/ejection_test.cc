// Ejection's and Backoff's promises, on a simulated clock: ejection at exactly the Nth
// consecutive failure, doubling durations capped at max, a decay that forgives a recovered
// backend, failures while ejected ignored; backoff doubling within its jitter, capped, reset.
#include "server/upstream/policy/ejection.h"

#include <algorithm>
#include <cstdint>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace server {
namespace upstream {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1000 * kMs;

Ejection::Options Opts() {
  Ejection::Options options;
  options.failures_to_eject = 5;
  options.base = absl::Seconds(1);
  options.max = absl::Seconds(30);
  return options;
}

// Fails until ejected, a millisecond apart, from `now`; returns when it was ejected.
int64_t FailUntilEjected(Ejection& e, int64_t now) {
  while (!e.OnFailure(now)) now += kMs;
  return now;
}

TEST(EjectionTest, ReinstateEndsAnEjectionNowAndKeepsItsLevel) {
  Ejection e(Opts());
  EXPECT_FALSE(e.Reinstate(0)) << "nothing to end";
  const int64_t first = FailUntilEjected(e, 0);
  ASSERT_TRUE(e.ejected(first + 500 * kMs));
  EXPECT_TRUE(e.Reinstate(first + 500 * kMs));
  EXPECT_FALSE(e.ejected(first + 500 * kMs));
  EXPECT_EQ(e.level(first + 500 * kMs), 1) << "the record stays";
  EXPECT_FALSE(e.Reinstate(first + 600 * kMs)) << "ended already";
  // Failing again soon after: ejected at the next level, for 2 s rather than 1 s.
  const int64_t second = FailUntilEjected(e, first + 600 * kMs);
  EXPECT_EQ(e.ejected_until_ns() - second, 2 * kSecond);
}

TEST(EjectionTest, ReinstateStartsTheConsecutiveCountOver) {
  Ejection e(Opts());
  for (int i = 1; i <= 4; ++i) e.OnFailure(i * kMs);
  EXPECT_FALSE(e.Reinstate(5 * kMs));
  EXPECT_EQ(e.consecutive_failures(), 0);
  EXPECT_FALSE(e.OnFailure(6 * kMs)) << "one failure after an answer does not eject";
}

TEST(EjectionTest, EjectsExactlyAtTheNthConsecutiveFailure) {
  Ejection e(Opts());
  EXPECT_EQ(e.ejected_until_ns(), 0);
  for (int i = 1; i <= 4; ++i) {
    EXPECT_FALSE(e.OnFailure(i * kMs)) << i;
    EXPECT_FALSE(e.ejected(i * kMs));
    EXPECT_EQ(e.consecutive_failures(), i);
  }
  EXPECT_TRUE(e.OnFailure(5 * kMs));
  EXPECT_TRUE(e.ejected(5 * kMs));
  EXPECT_EQ(e.ejected_until_ns(), 5 * kMs + kSecond);
  EXPECT_EQ(e.ejections(), 1);
  EXPECT_EQ(e.consecutive_failures(), 0);
}

TEST(EjectionTest, ASuccessResetsTheCount) {
  Ejection e(Opts());
  for (int i = 0; i < 4; ++i) e.OnFailure(0);
  e.OnSuccess(0);
  EXPECT_EQ(e.consecutive_failures(), 0);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(e.OnFailure(0));
  EXPECT_TRUE(e.OnFailure(0));
}

TEST(EjectionTest, TriedAgainWhenTheEjectionEnds) {
  Ejection e(Opts());
  const int64_t at = FailUntilEjected(e, 0);
  EXPECT_TRUE(e.ejected(at + kSecond - 1));
  EXPECT_FALSE(e.ejected(at + kSecond));
  // The count started again from zero: N more failures to eject again.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(e.OnFailure(at + kSecond));
  EXPECT_TRUE(e.OnFailure(at + kSecond));
}

TEST(EjectionTest, EachEjectionSoonAfterTheLastLastsTwiceAsLongUpToMax) {
  Ejection e(Opts());
  const int64_t expected_s[] = {1, 2, 4, 8, 16, 30, 30, 30};
  int64_t now = 0;
  for (int64_t s : expected_s) {
    const int64_t at = FailUntilEjected(e, now);
    EXPECT_EQ(e.ejected_until_ns() - at, s * kSecond) << "ejection " << e.ejections();
    now = e.ejected_until_ns();  // fails again as soon as it is tried
  }
  EXPECT_EQ(e.ejections(), 8);
  EXPECT_EQ(e.level(now), 6) << "stops rising at the cap";
}

TEST(EjectionTest, FailuresWhileEjectedAreIgnored) {
  Ejection e(Opts());
  const int64_t at = FailUntilEjected(e, 0);
  const int64_t until = e.ejected_until_ns();
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(e.OnFailure(at + i * kMs));
  EXPECT_EQ(e.ejected_until_ns(), until);
  EXPECT_EQ(e.consecutive_failures(), 0);
  EXPECT_EQ(e.ejections(), 1);
  EXPECT_EQ(e.level(until), 1);
}

TEST(EjectionTest, TheLevelDecaysByOnePerMaxIntervalAfterTheEjection) {
  Ejection e(Opts());
  int64_t now = 0;
  for (int i = 0; i < 3; ++i) {  // 1 s, 2 s, 4 s
    FailUntilEjected(e, now);
    now = e.ejected_until_ns();
  }
  EXPECT_EQ(e.level(now), 3);
  EXPECT_EQ(e.level(now + 30 * kSecond - 1), 3);
  EXPECT_EQ(e.level(now + 30 * kSecond), 2);
  EXPECT_EQ(e.level(now + 60 * kSecond), 1);
  EXPECT_EQ(e.level(now + 90 * kSecond), 0);
  EXPECT_EQ(e.level(now + 1000 * kSecond), 0);

  // 45 s healthy: one level forgiven, so the next ejection is at level 3 again (4 s).
  const int64_t at = FailUntilEjected(e, now + 45 * kSecond);
  EXPECT_EQ(e.ejected_until_ns() - at, 4 * kSecond);

  // Long healthy: back to the base duration.
  const int64_t later = FailUntilEjected(e, e.ejected_until_ns() + 600 * kSecond);
  EXPECT_EQ(e.ejected_until_ns() - later, kSecond);
  EXPECT_EQ(e.ejections(), 5);
}

TEST(EjectionTest, OddOptionsAreClamped) {
  Ejection::Options options;
  options.failures_to_eject = 0;
  options.base = absl::Seconds(2);
  options.max = absl::Seconds(1);
  Ejection e(options);
  EXPECT_TRUE(e.OnFailure(0)) << "failures_to_eject of 0 counts as 1";
  EXPECT_EQ(e.ejected_until_ns(), 2 * kSecond) << "max below base counts as base";
}

TEST(BackoffTest, DoublesWithinTheJitterAndCaps) {
  Backoff backoff(absl::Milliseconds(500), absl::Seconds(30), 1);
  int64_t step = 500 * kMs;
  for (int i = 0; i < 12; ++i) {
    const int64_t d = absl::ToInt64Nanoseconds(backoff.Next());
    EXPECT_GE(d, step * 8 / 10) << i;
    EXPECT_LE(d, std::min(step * 12 / 10, 30 * kSecond)) << i;
    step = std::min(2 * step, 30 * kSecond);
  }
}

TEST(BackoffTest, TheJitterVariesAndIsDeterministicForASeed) {
  Backoff a(absl::Seconds(1), absl::Seconds(1), 5);
  Backoff b(absl::Seconds(1), absl::Seconds(1), 5);
  Backoff c(absl::Seconds(1), absl::Seconds(1), 6);
  bool varies = false, differs = false;
  absl::Duration first = a.Next();
  EXPECT_EQ(first, b.Next());
  differs |= first != c.Next();
  for (int i = 0; i < 20; ++i) {
    const absl::Duration d = a.Next();
    EXPECT_EQ(d, b.Next());
    varies |= d != first;
    differs |= d != c.Next();
  }
  EXPECT_TRUE(varies);
  EXPECT_TRUE(differs);
}

TEST(BackoffTest, ResetGoesBackToInitial) {
  Backoff backoff(absl::Milliseconds(500), absl::Seconds(30), 3);
  for (int i = 0; i < 8; ++i) backoff.Next();
  EXPECT_GE(backoff.Next(), absl::Seconds(24));
  backoff.Reset();
  const absl::Duration d = backoff.Next();
  EXPECT_GE(d, absl::Milliseconds(400));
  EXPECT_LE(d, absl::Milliseconds(600));
  const absl::Duration d2 = backoff.Next();
  EXPECT_GE(d2, absl::Milliseconds(800));
  EXPECT_LE(d2, absl::Milliseconds(1200));
}

}  // namespace
}  // namespace upstream
}  // namespace server
