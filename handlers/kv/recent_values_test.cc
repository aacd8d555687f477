#include "handlers/kv/recent_values.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace handlers {
namespace {

std::optional<absl::string_view> Value(absl::string_view value) { return value; }

// What Read() says of `key`: "none" (not here), "deleted", or the value.
std::string Seen(const RecentValues& values, absl::string_view key) {
  std::string seen = "none";
  uint64_t ticket;
  values.Read(
      key,
      [&seen](std::optional<absl::string_view> value) {
        seen = value.has_value() ? std::string(*value) : "deleted";
      },
      &ticket);
  return seen;
}

uint64_t Ticket(const RecentValues& values, absl::string_view key) {
  uint64_t ticket = 0;
  EXPECT_FALSE(values.Read(key, [](std::optional<absl::string_view>) {}, &ticket)) << key;
  return ticket;
}

TEST(RecentValuesTest, AWriteIsReadUntilItIsDone) {
  RecentValues values(/*cache_bytes=*/1 << 20);
  EXPECT_EQ(Seen(values, "a"), "none");
  const uint64_t set = values.Put("a", Value("1"));
  EXPECT_EQ(Seen(values, "a"), "1");
  EXPECT_EQ(Seen(values, "b"), "none");
  values.Done("a", set);  // committed, or withdrawn: either way the store has the truth now
  EXPECT_EQ(Seen(values, "a"), "none");
  EXPECT_EQ(values.size(), 0u) << "a committed write is not kept";
}

TEST(RecentValuesTest, TheLatestWriteOfAKeyStaysPendingUntilItsOwnDone) {
  RecentValues values(/*cache_bytes=*/0);
  const uint64_t first = values.Put("a", Value("1"));
  const uint64_t second = values.Put("a", Value(""));  // an empty value is a value
  const uint64_t del = values.Put("a", std::nullopt);
  EXPECT_EQ(Seen(values, "a"), "deleted");
  values.Done("a", first);  // committed: the store has "1", but the DEL is still pending
  values.Done("a", second);
  EXPECT_EQ(Seen(values, "a"), "deleted");
  const uint64_t again = values.Put("a", Value("2"));
  values.Done("a", del);
  EXPECT_EQ(Seen(values, "a"), "2");
  values.Done("a", again);
  EXPECT_EQ(Seen(values, "a"), "none");
}

TEST(RecentValuesTest, ReadsFillTheCacheAndACachedKeyStaysCachedAcrossItsWrites) {
  RecentValues values(/*cache_bytes=*/1 << 20);
  values.Fill("a", Ticket(values, "a"), "from the store");
  EXPECT_EQ(Seen(values, "a"), "from the store");
  values.Fill("gone", Ticket(values, "gone"), std::nullopt);
  EXPECT_EQ(Seen(values, "gone"), "deleted") << "a NOT_FOUND is cached too";
  const uint64_t version = values.Put("a", Value("written"));
  EXPECT_EQ(Seen(values, "a"), "written");
  values.Done("a", version);
  EXPECT_EQ(Seen(values, "a"), "written") << "committed, the write is the cached value";
  values.Done("gone", values.Put("gone", Value(std::string(100, 'x'))));  // not in place
  EXPECT_EQ(Seen(values, "gone"), std::string(100, 'x'));
  values.Withdraw("a", values.Put("a", Value("refused")));
  EXPECT_EQ(Seen(values, "a"), "none") << "a write not stored leaves nothing: read the store";
  values.Done("new", values.Put("new", Value("1")));
  EXPECT_EQ(Seen(values, "new"), "none") << "a key no GET read is not kept once committed";
  // Without a cache nothing is kept.
  RecentValues uncached(/*cache_bytes=*/0);
  uncached.Fill("a", Ticket(uncached, "a"), "from the store");
  EXPECT_EQ(Seen(uncached, "a"), "none");
}

TEST(RecentValuesTest, AReadIsNotCachedIfAWriteCameBetweenItsMissAndItsFill) {
  RecentValues values(/*cache_bytes=*/1 << 20);
  // The value read may predate the write, committed and gone from here by the time of the fill.
  const uint64_t ticket = Ticket(values, "b");
  values.Done("b", values.Put("b", Value("new")));
  values.Fill("b", ticket, "old");
  EXPECT_EQ(Seen(values, "b"), "none");
  // Even if the write was of another key (of the same shard, or not: the shard is not known
  // here): at worst a fill is skipped.
  // 400 keys: none of them is in c's shard but once in 10^11 (the hash's seed changes per run).
  const uint64_t other = Ticket(values, "c");
  for (int i = 0; i < 400; ++i) {
    values.Done(absl::StrCat("k", i), values.Put(absl::StrCat("k", i), std::nullopt));
  }
  values.Fill("c", other, "maybe old");
  // Once nothing was written since the miss, the fill is kept.
  values.Fill("c", Ticket(values, "c"), "current");
  EXPECT_EQ(Seen(values, "c"), "current");
}

TEST(RecentValuesTest, TheCacheDropsTheOldestKeysPastItsBytesButNeverAPendingWrite) {
  constexpr int64_t kCacheBytes = 64 << 10;
  RecentValues values(kCacheBytes);
  const std::string value(1000, 'v');
  std::vector<uint64_t> versions;
  for (int i = 0; i < 1000; ++i) versions.push_back(values.Put(absl::StrCat("p", i), Value(value)));
  for (int i = 0; i < 1000; ++i) {
    const std::string key = absl::StrCat("k", i);
    values.Fill(key, Ticket(values, key), value);
  }
  // About 1 KiB a key: a 64 KiB cache keeps well under a hundred of the reads, the newest.
  EXPECT_LE(values.size(), 1000u + 64u);
  EXPECT_GE(values.size(), 1000u) << "pending writes are never dropped";
  EXPECT_EQ(Seen(values, "k0"), "none");
  EXPECT_EQ(Seen(values, "k999"), value);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(Seen(values, absl::StrCat("p", i)), value);
    values.Done(absl::StrCat("p", i), versions[i]);
  }
  EXPECT_LE(values.size(), 64u);
}

// Cached keys written and committed count again, and the bound holds: those whose place in the
// order was spent while their write was pending are not kept.
TEST(RecentValuesTest, CachedKeysWrittenStayWithinTheCacheBytes) {
  constexpr int64_t kCacheBytes = 64 << 10;
  RecentValues values(kCacheBytes);
  const std::string value(1000, 'v');
  // Three such values fill a shard's 4 KiB. 120 keys, 7.5 a shard, fill nearly all 16 shards
  // whatever the hash's seed (it changes per run); sixty left a shard short too often.
  constexpr int kKeys = 120;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = absl::StrCat("k", i);
    values.Fill(key, Ticket(values, key), value);
  }
  const size_t cached = values.size();
  ASSERT_GE(cached, 40u);
  std::vector<uint64_t> versions;
  for (int i = 0; i < kKeys; ++i) versions.push_back(values.Put(absl::StrCat("k", i), Value(value)));
  for (int i = 0; i < 1000; ++i) {  // reads of other keys push the written ones out of the order
    const std::string key = absl::StrCat("r", i);
    values.Fill(key, Ticket(values, key), value);
  }
  for (int i = 0; i < kKeys; ++i) values.Done(absl::StrCat("k", i), versions[i]);
  EXPECT_EQ(Seen(values, "k0"), "none") << "its place was spent: not kept";
  EXPECT_LE(values.size(), 64u);
  EXPECT_EQ(Seen(values, "r999"), value);
}

// A SET flood's items are freed on the commit thread and made on a worker's: the blocks of
// items done with are kept for the next writes, a few per shard, and never mix up values.
TEST(RecentValuesTest, BlocksOfDoneWritesAreReusedByLaterWritesUpToABound) {
  constexpr size_t kMostSpare = 16 * 32;  // shards x kSpareItems
  RecentValues values(/*cache_bytes=*/0);
  const std::string value(64, 'v');
  std::vector<uint64_t> versions;
  for (int i = 0; i < 1000; ++i) versions.push_back(values.Put(absl::StrCat("a", i), Value(value)));
  EXPECT_EQ(values.spare_items(), 0u);
  for (int i = 0; i < 1000; ++i) values.Done(absl::StrCat("a", i), versions[i]);
  const size_t spare = values.spare_items();
  EXPECT_GT(spare, 0u);
  EXPECT_LE(spare, kMostSpare) << "more blocks kept than the bound";

  // Later writes of about the same size take them, each with its own key and value, whatever
  // the block held before. Twice as many, so that every shard gets more of them than it has
  // spares, whatever the hash's seed.
  constexpr int kLater = 2000;
  auto b_value = [](int i) { return absl::StrCat(std::string(50, 'w'), i); };
  versions.clear();
  for (int i = 0; i < kLater; ++i) {
    versions.push_back(values.Put(absl::StrCat("b", i), Value(b_value(i))));
  }
  EXPECT_EQ(values.spare_items(), 0u) << "spare blocks left while new writes allocated";
  for (int i = 0; i < kLater; ++i) {
    ASSERT_EQ(Seen(values, absl::StrCat("b", i)), b_value(i));
    ASSERT_EQ(Seen(values, absl::StrCat("a", i)), "none");
  }
  for (int i = 0; i < kLater; ++i) values.Done(absl::StrCat("b", i), versions[i]);
  EXPECT_EQ(values.size(), 0u);

  // A large block is not kept.
  const size_t before = values.spare_items();
  values.Done("big", values.Put("big", Value(std::string(4096, 'x'))));
  EXPECT_EQ(values.spare_items(), before) << "a 4 KiB block kept as a spare";
}

}  // namespace
}  // namespace handlers
