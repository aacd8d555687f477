#include "handlers/kv/pending_writes.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace handlers {
namespace {

std::shared_ptr<const std::string> Value(std::string value) {
  return std::make_shared<const std::string>(std::move(value));
}

// What Read() says of `key`: "none" (no pending write), "deleted", or the value.
std::string Seen(const PendingWrites& pending, absl::string_view key) {
  std::string seen = "none";
  pending.Read(key, [&seen](const std::string* value) { seen = value ? *value : "deleted"; });
  return seen;
}

TEST(PendingWritesTest, AWriteIsReadUntilItIsDone) {
  PendingWrites pending;
  EXPECT_EQ(Seen(pending, "a"), "none");
  const uint64_t set = pending.Put("a", Value("1"));
  EXPECT_EQ(Seen(pending, "a"), "1");
  EXPECT_EQ(Seen(pending, "b"), "none");
  EXPECT_EQ(pending.size(), 1);
  pending.Done("a", set);
  EXPECT_EQ(Seen(pending, "a"), "none");
  EXPECT_EQ(pending.size(), 0);
}

TEST(PendingWritesTest, TheLatestWriteOfAKeyStaysUntilItsOwnDone) {
  PendingWrites pending;
  const uint64_t first = pending.Put("a", Value("1"));
  const uint64_t second = pending.Put("a", Value(""));  // an empty value is a value
  const uint64_t del = pending.Put("a", nullptr);
  EXPECT_EQ(Seen(pending, "a"), "deleted");
  pending.Done("a", first);   // committed: the store has "1", but the DEL is still pending
  pending.Done("a", second);
  EXPECT_EQ(Seen(pending, "a"), "deleted");
  EXPECT_EQ(pending.size(), 1);
  const uint64_t again = pending.Put("a", Value("2"));
  EXPECT_EQ(Seen(pending, "a"), "2");
  pending.Done("a", del);
  EXPECT_EQ(Seen(pending, "a"), "2");
  pending.Done("a", again);
  EXPECT_EQ(Seen(pending, "a"), "none");
  EXPECT_EQ(pending.size(), 0);
}

TEST(PendingWritesTest, ManyKeysOverTheShards) {
  PendingWrites pending;
  std::vector<uint64_t> versions;
  for (int i = 0; i < 1000; ++i) versions.push_back(pending.Put(absl::StrCat("k", i), Value(absl::StrCat("v", i))));
  EXPECT_EQ(pending.size(), 1000);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(Seen(pending, absl::StrCat("k", i)), absl::StrCat("v", i));
  for (int i = 0; i < 1000; i += 2) pending.Done(absl::StrCat("k", i), versions[i]);
  EXPECT_EQ(pending.size(), 500);
  EXPECT_EQ(Seen(pending, "k2"), "none");
  EXPECT_EQ(Seen(pending, "k3"), "v3");
}

}  // namespace
}  // namespace handlers
