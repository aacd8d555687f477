// MemoryRelease's promises, on a simulated clock: quiet turns release a second after the last
// close, a worker that is never quiet still releases every 30 s, evictions release at once.
#include "server/memory/memory_release.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace server {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1000 * kMs;

TEST(MemoryReleaseTest, NothingClosedNothingReleased) {
  MemoryRelease release(0);
  release.MaybeRelease(100 * kSecond, 0);
  EXPECT_EQ(release.releases(), 0);
}

TEST(MemoryReleaseTest, AQuietTurnReleasesASecondAfterTheLastClose) {
  MemoryRelease release(0);
  release.NoteClosed(10 * kSecond);
  release.MaybeRelease(10 * kSecond + 999 * kMs, 0);
  EXPECT_EQ(release.releases(), 0) << "released before a second of quiet";
  release.MaybeRelease(11 * kSecond, 5);
  EXPECT_EQ(release.releases(), 0) << "released on a busy turn before the 30 s deadline";
  release.MaybeRelease(11 * kSecond, 1);
  EXPECT_EQ(release.releases(), 1);
  release.MaybeRelease(12 * kSecond, 0);
  EXPECT_EQ(release.releases(), 1) << "released again with nothing closed since";
}

// The promise the header makes: every turn busy, a connection closed in each, and still a
// release once 30 s have passed since the last one, and not before.
TEST(MemoryReleaseTest, ABusyWorkerThatNeverStopsClosingStillReleasesEvery30Seconds) {
  MemoryRelease release(0);
  int64_t first_release_ns = -1;
  for (int64_t now = 0; now <= 65 * kSecond; now += 10 * kMs) {  // a turn every 10 ms
    release.NoteClosed(now);
    const int before = release.releases();
    release.MaybeRelease(now, /*events=*/64);
    if (release.releases() > before && first_release_ns < 0) first_release_ns = now;
  }
  EXPECT_EQ(first_release_ns, 30 * kSecond);
  EXPECT_EQ(release.releases(), 2) << "at 30 s and at 60 s";
}

TEST(MemoryReleaseTest, EvictionsReleaseOnABusyTurnAtMostEvery100Ms) {
  MemoryRelease release(0);
  release.NoteClosed(1 * kSecond);
  release.NoteEvicted();
  release.MaybeRelease(1 * kSecond, 64);
  EXPECT_EQ(release.releases(), 1);
  release.NoteClosed(1 * kSecond + 50 * kMs);
  release.NoteEvicted();
  release.MaybeRelease(1 * kSecond + 50 * kMs, 64);
  EXPECT_EQ(release.releases(), 1) << "two urgent releases 50 ms apart";
  release.MaybeRelease(1 * kSecond + 100 * kMs, 64);
  EXPECT_EQ(release.releases(), 2);
}

}  // namespace
}  // namespace server
