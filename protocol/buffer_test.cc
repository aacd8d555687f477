#include "protocol/buffer.h"

#include <string>

#include "gtest/gtest.h"

namespace protocol {
namespace {

TEST(BufferTest, EmptyBufferAllocatesNothing) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(BufferTest, AppendConsumeKeepsOrder) {
  Buffer b;
  b.Append("hello ");
  b.Append("world");
  EXPECT_EQ(b.view(), "hello world");
  b.Consume(6);
  EXPECT_EQ(b.view(), "world");
  b.Append("!");
  EXPECT_EQ(b.view(), "world!");
}

TEST(BufferTest, GrowsWithAppendedBytesOnly) {
  Buffer b;
  b.Append("x");
  EXPECT_LE(b.capacity(), 64u);
  std::string big(10000, 'y');
  b.Append(big);
  EXPECT_EQ(b.size(), 10001u);
  EXPECT_LE(b.capacity(), 2 * 10001u);
}

TEST(BufferTest, ReusesSpaceAtTheFrontInsteadOfGrowing) {
  Buffer b;
  b.Append(std::string(1000, 'a'));
  const size_t capacity = b.capacity();
  for (int i = 0; i < 100; ++i) {
    b.Consume(900);
    b.Append(std::string(900, 'b'));
  }
  EXPECT_EQ(b.capacity(), capacity);
  EXPECT_EQ(b.size(), 1000u);
}

TEST(BufferTest, TruncateAndOverwrite) {
  Buffer b;
  b.Append("abcdef");
  b.Overwrite(1, "XY");
  EXPECT_EQ(b.view(), "aXYdef");
  b.Truncate(2);
  EXPECT_EQ(b.view(), "aX");
}

TEST(BufferTest, ClearFreesLargeAllocationsOnly) {
  Buffer b;
  b.Append(std::string(100, 'a'));
  b.Clear(/*keep_capacity=*/256);
  EXPECT_GT(b.capacity(), 0u);
  b.Append(std::string(5000, 'a'));
  b.Clear(/*keep_capacity=*/256);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.empty());
}

TEST(BufferTest, ReserveLetsAppendsFillInPlace) {
  Buffer b;
  b.Append("head");
  b.Consume(2);
  b.Reserve(1000);
  EXPECT_EQ(b.view(), "ad");
  const char* const start = b.data();
  for (int i = 0; i < 99; ++i) b.Append("0123456789");
  EXPECT_EQ(b.data(), start);  // never moved
  EXPECT_EQ(b.size(), 992u);
  EXPECT_EQ(b.capacity(), 1000u);
  b.Reserve(10);  // already enough: no change
  EXPECT_EQ(b.data(), start);
}

}  // namespace
TEST(BufferTest, ResidentBoundIsTheCapacityOfASmallBlockAndTheBytesWrittenOfALargeOne) {
  Buffer small;
  small.Append("hello");
  EXPECT_EQ(small.resident_bound(), small.capacity());
  Buffer large;
  large.Reserve(16u << 20);  // room for a declared 16 MiB frame: address space only
  EXPECT_LE(large.resident_bound(), 4096u);
  large.Append(std::string(100 << 10, 'x'));
  EXPECT_GE(large.resident_bound(), 100u << 10);
  EXPECT_LE(large.resident_bound(), (100u << 10) + 4096);
  large.Append(std::string(3 << 20, 'y'));  // past the first huge page
  EXPECT_GE(large.resident_bound(), (3u << 20) + (100u << 10));
  EXPECT_LE(large.resident_bound(), (5u << 20) + (100u << 10));
}

}  // namespace protocol
