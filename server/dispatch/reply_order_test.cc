#include "server/dispatch/reply_order.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
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

// WaitingPlaces() as (id, started_ns) pairs, to compare whole lists.
using Places = std::vector<std::pair<uint64_t, int64_t>>;
Places Listed(const ReplyOrder& order) {
  Places listed;
  for (const ReplyOrder::Waiting& w : order.WaitingPlaces()) listed.emplace_back(w.id, w.started_ns);
  return listed;
}

TEST(ReplyOrderTest, WaitingPlacesListsOnlyUnanswered) {
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  const uint64_t a = order.Reserve(1);
  order.PushReady("x");  // ready from the start: never listed
  const uint64_t b = order.Reserve(2);
  const uint64_t c = order.Reserve(3);
  const uint64_t d = order.Reserve(4);
  EXPECT_EQ(Listed(order), (Places{{a, 1}, {b, 2}, {c, 3}, {d, 4}}));

  int released = -1;
  int64_t started = 0;
  // Filled, but held behind `a`: no longer listed, though still in the order.
  ASSERT_TRUE(order.Fill(c, "c", &released, &started));
  EXPECT_EQ(released, 0);
  EXPECT_EQ(Listed(order), (Places{{a, 1}, {b, 2}, {d, 4}}));
  EXPECT_FALSE(order.IsWaiting(c));
  EXPECT_EQ(order.waiting(), 3u);
  EXPECT_EQ(order.size(), 5u);

  // Filling the oldest releases it and what is ready behind it, up to the next one waiting.
  ASSERT_TRUE(order.Fill(a, "a", &released, &started));
  EXPECT_EQ(released, 2);  // a, x
  EXPECT_EQ(output.ToString(), "ax");
  EXPECT_EQ(Listed(order), (Places{{b, 2}, {d, 4}}));

  ASSERT_TRUE(order.Fill(b, "b", &released, &started));
  EXPECT_EQ(released, 2);  // b, c
  EXPECT_EQ(Listed(order), (Places{{d, 4}}));
  EXPECT_TRUE(order.IsWaiting(d));

  ASSERT_TRUE(order.Fill(d, "d", &released, &started));
  EXPECT_EQ(released, 1);
  EXPECT_TRUE(order.WaitingPlaces().empty());
  EXPECT_EQ(output.ToString(), "axbcd");
}

// One request always in flight for `rounds` rounds: each round answers it ("x"), with `held`
// (unless empty) ready behind it, and takes the next place; the answers flow out as they come.
void AnswersFlowBehindOneWaiting(ReplyOrder& order, int rounds, absl::string_view held) {
  uint64_t waiting = order.Reserve(0);
  for (int i = 0; i < rounds; ++i) {
    if (!held.empty()) order.PushReady(held);
    const uint64_t next = order.Reserve(0);
    int released = 0;
    int64_t started = 0;
    ASSERT_TRUE(order.Fill(waiting, "x", &released, &started));
    ASSERT_EQ(released, held.empty() ? 1 : 2);
    waiting = next;
    ASSERT_EQ(order.size(), 1u);
  }
}

TEST(ReplyOrderTest, MemoryStaysBoundedWhileAPlaceIsAlwaysWaiting) {
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  ASSERT_NO_FATAL_FAILURE(AnswersFlowBehindOneWaiting(order, 100000, ""));
  EXPECT_LE(order.capacity(), 4u) << "spent places are not kept";
  EXPECT_EQ(output.size(), 100000u);
}

// A reply held behind a waiting one is written in place into the order's buffer; the buffer
// is a queue (what leaves is consumed) and is freed once nothing is held.
TEST(ReplyOrderTest, RepliesWrittenInPlaceLeaveInOrderAndNothingIsKeptOnceOut) {
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  const uint64_t first = order.Reserve(0);
  order.held_buffer().Append("bb");
  order.PushHeld(2);
  const uint64_t third = order.Reserve(0);
  order.held_buffer().Append("dd");
  order.PushHeld(2);
  order.held_buffer().Append("eee");
  order.PushHeld(3);
  EXPECT_EQ(order.held_bytes(), 7u);
  int released = 0;
  int64_t started = 0;
  ASSERT_TRUE(order.Fill(third, "c", &released, &started));
  EXPECT_EQ(released, 0);
  ASSERT_TRUE(order.Fill(first, "a", &released, &started));
  EXPECT_EQ(released, 5);
  EXPECT_EQ(output.ToString(), "abbcddeee");
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(order.held_bytes(), 0u);
  EXPECT_EQ(order.held_capacity(), 0u) << "an idle connection holds no buffer";
}

TEST(ReplyOrderTest, HeldRepliesStayBoundedWhileAPlaceIsAlwaysWaiting) {
  protocol::OutputQueue output;
  ReplyOrder order(&output);
  // A held reply behind each waiting place, forever.
  ASSERT_NO_FATAL_FAILURE(AnswersFlowBehindOneWaiting(order, 100000, "held"));
  EXPECT_LE(order.held_capacity(), 4096u) << "bytes that left are not kept";
  EXPECT_EQ(output.size(), 500000u);
}

}  // namespace
}  // namespace server
