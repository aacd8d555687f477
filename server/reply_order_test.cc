#include "server/reply_order.h"

#include "gtest/gtest.h"
#include "protocol/output_queue.h"

namespace server {
namespace {

TEST(ReplyOrderTest, RepliesGoOutInRequestOrderWhateverTheCompletionOrder) {
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  const uint64_t first = order.Reserve(100);
  const uint64_t second = order.Reserve(200);
  order.PushReady("3");  // answered at once, but behind the two waiting
  EXPECT_EQ(order.waiting(), 2u);
  EXPECT_EQ(order.size(), 3u);

  int released = -1;
  int64_t started = 0;
  ASSERT_TRUE(order.Fill(second, "2", &released, &started));
  EXPECT_EQ(released, 0);  // the first is still waiting
  EXPECT_EQ(started, 200);
  EXPECT_EQ(output.ToString(), "");

  ASSERT_TRUE(order.Fill(first, "1", &released, &started));
  EXPECT_EQ(released, 3);
  EXPECT_EQ(output.ToString(), "123");
  EXPECT_TRUE(order.empty());
}

TEST(ReplyOrderTest, ASecondAnswerOrAnUnknownIdIsRefused) {
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  const uint64_t id = order.Reserve(0);
  const uint64_t later = order.Reserve(0);
  int released = 0;
  int64_t started = 0;
  ASSERT_TRUE(order.Fill(later, "b", &released, &started));
  EXPECT_FALSE(order.Fill(later, "again", &released, &started));
  EXPECT_FALSE(order.Fill(id + 100, "unknown", &released, &started));
  ASSERT_TRUE(order.Fill(id, "a", &released, &started));
  EXPECT_FALSE(order.Fill(id, "late", &released, &started));  // released already
  EXPECT_EQ(output.ToString(), "ab");
}

TEST(ReplyOrderTest, WaitingPlacesListsOnlyUnanswered) {
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  const uint64_t a = order.Reserve(1);
  order.PushReady("x");
  const uint64_t b = order.Reserve(2);
  const std::vector<ReplyOrder::Waiting> waiting = order.WaitingPlaces();
  ASSERT_EQ(waiting.size(), 2u);
  EXPECT_EQ(waiting[0].id, a);
  EXPECT_EQ(waiting[0].started_ns, 1);
  EXPECT_EQ(waiting[1].id, b);
}

TEST(ReplyOrderTest, MemoryStaysBoundedWhileAPlaceIsAlwaysWaiting) {
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  uint64_t waiting = order.Reserve(0);
  for (int i = 0; i < 100000; ++i) {  // one request always in flight, answers flowing behind it
    const uint64_t next = order.Reserve(0);
    int released = 0;
    int64_t started = 0;
    ASSERT_TRUE(order.Fill(waiting, "x", &released, &started));
    ASSERT_EQ(released, 1);
    waiting = next;
    ASSERT_EQ(order.size(), 1u);
  }
  EXPECT_LE(order.capacity(), 4u) << "spent places are not kept";
  EXPECT_EQ(output.size(), 100000u);
}

}  // namespace
}  // namespace server
