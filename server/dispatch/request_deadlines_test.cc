// RequestDeadlines: a FIFO in deadline order, tickets that survive a compaction.
#include "server/dispatch/request_deadlines.h"

#include <map>
#include <vector>

#include "gtest/gtest.h"

namespace server {
namespace {

constexpr int64_t kTimeoutNs = 1'000'000;

// Keeps the ticket of each of its requests, as a session keeps them in its reply order.
struct Holder : RequestDeadlines::Holder {
  void Retag(uint64_t id, uint64_t ticket) override { tickets[id] = ticket; }
  std::map<uint64_t, uint64_t> tickets;
};

std::vector<uint64_t> ExpireAt(RequestDeadlines& deadlines, int64_t now_ns) {
  std::vector<uint64_t> expired;
  deadlines.Expire(now_ns, [&](RequestDeadlines::Holder*, uint64_t id) { expired.push_back(id); });
  return expired;
}

TEST(RequestDeadlinesTest, ExpiresInOrderAndNotTheRemoved) {
  RequestDeadlines deadlines(absl::Nanoseconds(kTimeoutNs));
  Holder h;
  for (uint64_t id = 1; id <= 3; ++id) h.tickets[id] = deadlines.Add(&h, id, 100 * id);
  deadlines.Remove(h.tickets[2]);
  EXPECT_EQ(deadlines.size(), 2u);
  EXPECT_EQ(deadlines.NextDeadlineNs(), 100 + kTimeoutNs);
  EXPECT_TRUE(ExpireAt(deadlines, 100 + kTimeoutNs - 1).empty());
  EXPECT_EQ(ExpireAt(deadlines, 300 + kTimeoutNs), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(deadlines.size(), 0u);
  EXPECT_EQ(deadlines.NextDeadlineNs(), common::EventLoop::kNoDeadline);
  deadlines.Remove(h.tickets[1]);  // expired already: nothing happens
  EXPECT_EQ(deadlines.size(), 0u);
}

TEST(RequestDeadlinesTest, NoTimeoutKeepsNothing) {
  RequestDeadlines deadlines(absl::InfiniteDuration());
  Holder h;
  EXPECT_EQ(deadlines.Add(&h, 1, 0), 0u);
  EXPECT_EQ(deadlines.size(), 0u);
  EXPECT_EQ(deadlines.NextDeadlineNs(), common::EventLoop::kNoDeadline);
}

TEST(RequestDeadlinesTest, ADeadlineIsNeverEarlierThanOneBeforeIt) {
  RequestDeadlines deadlines(absl::Nanoseconds(kTimeoutNs));
  Holder h;
  deadlines.Add(&h, 1, 500);
  deadlines.Add(&h, 2, 400);  // a clock that stepped back: it waits behind the first
  EXPECT_EQ(ExpireAt(deadlines, 400 + kTimeoutNs), std::vector<uint64_t>{});
  EXPECT_EQ(ExpireAt(deadlines, 500 + kTimeoutNs), (std::vector<uint64_t>{1, 2}));
}

// One request waits while many come and go behind it: the FIFO stays bounded, and the waiting
// one keeps its deadline and can still be removed by the ticket it was told.
TEST(RequestDeadlinesTest, ManyAnsweredBehindOneWaitingAreCompacted) {
  RequestDeadlines deadlines(absl::Nanoseconds(kTimeoutNs));
  Holder h;
  h.tickets[1] = deadlines.Add(&h, 1, 0);
  for (uint64_t id = 2; id < 100'000; ++id) {
    h.tickets[id] = deadlines.Add(&h, id, static_cast<int64_t>(id));
    deadlines.Remove(h.tickets[id]);
    ASSERT_LE(deadlines.queued(), 2 * deadlines.size() + RequestDeadlines::kCompactAbove + 1);
  }
  EXPECT_EQ(deadlines.size(), 1u);
  h.tickets[100'000] = deadlines.Add(&h, 100'000, 100'000);
  EXPECT_EQ(deadlines.NextDeadlineNs(), kTimeoutNs);
  deadlines.Remove(h.tickets[1]);  // the ticket it was told at the last compaction
  EXPECT_EQ(deadlines.size(), 1u);
  EXPECT_EQ(ExpireAt(deadlines, 100'000 + kTimeoutNs), std::vector<uint64_t>{100'000});
}

}  // namespace
}  // namespace server
