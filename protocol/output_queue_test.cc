#include "protocol/output_queue.h"

#include <string>

#include "gtest/gtest.h"
#include "protocol/frame.h"

namespace protocol {
namespace {

std::string Drain(OutputQueue& q, size_t piece) {
  std::string read;
  while (!q.empty()) {
    absl::string_view parts[8];
    const int n = q.Peek(parts, 8);
    EXPECT_GE(n, 1);
    const size_t take = std::min(piece, parts[0].size());
    read.append(parts[0].data(), take);
    q.Consume(take);
  }
  return read;
}

TEST(OutputQueueTest, SmallRepliesShareOneSegment) {
  OutputQueue q;
  AppendFrame("a", &q.BufferForNextReply());
  AppendFrame("bc", &q.BufferForNextReply());
  absl::string_view parts[4];
  ASSERT_EQ(q.Peek(parts, 4), 1);
  EXPECT_EQ(q.size(), 11u);
  EXPECT_EQ(q.ToString(), std::string("\0\0\0\1a\0\0\0\2bc", 11));
}

TEST(OutputQueueTest, AFullSegmentIsNotGrownButFollowed) {
  OutputQueue q(/*segment_bytes=*/100);
  Buffer& first = q.BufferForNextReply();
  AppendFrame(std::string(200, 'x'), &first);
  const char* const first_bytes = first.data();
  AppendFrame(std::string(50, 'y'), &q.BufferForNextReply());
  AppendFrame(std::string(60, 'z'), &q.BufferForNextReply());  // 54 < 100: same segment
  absl::string_view parts[4];
  ASSERT_EQ(q.Peek(parts, 4), 2);
  EXPECT_EQ(parts[0].data(), first_bytes);  // the pending reply was not moved
  EXPECT_EQ(parts[0].size(), 204u);
  EXPECT_EQ(parts[1].size(), 54u + 64u);
  EXPECT_EQ(q.size(), 204u + 54u + 64u);
}

TEST(OutputQueueTest, ConsumeInAnyPiecesKeepsOrderAndSize) {
  for (size_t piece : {1, 3, 7, 64, 1000}) {
    OutputQueue q(/*segment_bytes=*/10);
    Buffer expected;
    std::string read;
    for (int i = 0; i < 50; ++i) {
      const std::string payload(i % 23, static_cast<char>('a' + i % 26));
      AppendFrame(payload, &q.BufferForNextReply());
      AppendFrame(payload, &expected);
      if (i % 7 == 0) {  // the reader takes a little while replies are still being added
        absl::string_view parts[2];
        q.Peek(parts, 2);
        const size_t take = std::min(piece, parts[0].size());
        const size_t before = q.size();
        read.append(parts[0].data(), take);
        q.Consume(take);
        EXPECT_EQ(q.size(), before - take);
      }
    }
    read += Drain(q, piece);
    EXPECT_EQ(read, expected.view()) << "piece " << piece;
    EXPECT_TRUE(q.empty());
  }
}

TEST(OutputQueueTest, AReplyTruncatedBackAfterASegmentSwitch) {
  // Dispatch truncates a failed reply back to its start; that must stay within its segment.
  OutputQueue q(/*segment_bytes=*/8);
  AppendFrame("12345678", &q.BufferForNextReply());
  Buffer& b = q.BufferForNextReply();
  const size_t start = BeginFrame(&b);
  b.Append("partial");
  b.Truncate(start);
  AppendFrame("ok", &b);
  EXPECT_EQ(q.ToString(), std::string("\0\0\0\x08" "12345678" "\0\0\0\x02" "ok", 18));
}

TEST(OutputQueueTest, ClearKeepsOneSmallSegment) {
  OutputQueue q(/*segment_bytes=*/16);
  for (int i = 0; i < 5; ++i) AppendFrame(std::string(20, 'q'), &q.BufferForNextReply());
  q.Clear(/*keep_capacity=*/1 << 10);
  EXPECT_TRUE(q.empty());
  absl::string_view parts[2];
  EXPECT_EQ(q.Peek(parts, 2), 0);
  AppendFrame("again", &q.BufferForNextReply());
  EXPECT_EQ(q.size(), 9u);
}

}  // namespace
}  // namespace protocol
