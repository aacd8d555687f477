#include "handlers/kv/byte_blocks.h"

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace handlers {
namespace {

TEST(ByteBlocksTest, CopiesStayWhereTheyWereMadeUntilClear) {
  ByteBlocks bytes;
  std::vector<std::string> made;
  std::vector<const char*> at;
  for (int i = 0; i < 3000; ++i) {  // across many blocks, large copies among them
    const std::string key = absl::StrCat("key:", i);
    const std::string value(i % 100 == 0 ? 20000 : i % 97, static_cast<char>('a' + i % 26));
    at.push_back(bytes.Copy(key, value));
    made.push_back(key + value);
  }
  for (size_t i = 0; i < made.size(); ++i) {
    ASSERT_EQ(absl::string_view(at[i], made[i].size()), made[i]) << i;
  }
}

// What the commit queue charges its memory budget for a copy (MostBytesFor) covers what the
// blocks take, whatever the sizes: the unused ends of blocks included.
TEST(ByteBlocksTest, WhatTheCopiesTakeStaysWithinWhatIsChargedForThem) {
  for (size_t size : {size_t{1}, size_t{80}, size_t{5000}, ByteBlocks::kBlockBytes / 4,
                      ByteBlocks::kBlockBytes / 4 + 1, size_t{1} << 20}) {
    ByteBlocks bytes;
    size_t charged = 0;
    for (int i = 0; i < 64; ++i) {
      bytes.Copy(std::string(size / 2, 'k'), std::string(size - size / 2, 'v'));
      charged += ByteBlocks::MostBytesFor(size);
      // The block being filled is not full yet: it may hold up to one block more.
      EXPECT_LE(bytes.allocated_bytes(), charged + ByteBlocks::kBlockBytes) << size;
    }
  }
}

TEST(ByteBlocksTest, ClearFreesAllButOneBlock) {
  ByteBlocks bytes;
  EXPECT_EQ(bytes.allocated_bytes(), 0u);
  for (int i = 0; i < 1000; ++i) bytes.Copy("key", std::string(100, 'v'));
  bytes.Copy("big", std::string(1 << 20, 'v'));
  EXPECT_GT(bytes.allocated_bytes(), size_t{1} << 20);
  bytes.Clear();
  EXPECT_EQ(bytes.allocated_bytes(), ByteBlocks::kBlockBytes);
  const char* again = bytes.Copy("a", "b");  // into the block kept
  EXPECT_EQ(absl::string_view(again, 2), "ab");
  EXPECT_EQ(bytes.allocated_bytes(), ByteBlocks::kBlockBytes);
}

}  // namespace
}  // namespace handlers
