#include "common/intrusive_list.h"

#include <memory>
#include <vector>

#include "common/timer_list.h"
#include "gtest/gtest.h"

namespace common {
namespace {

struct Job {
  explicit Job(int id) : id(id) {}
  int id;
  ListHook<Job> ready{this};
  TimerHook<Job> timer{this};
};

// Pops every entry and returns their ids, front first.
std::vector<int> Drain(IntrusiveList<Job>* list) {
  std::vector<int> ids;
  while (Job* job = list->PopFront()) ids.push_back(job->id);
  return ids;
}

TEST(IntrusiveListTest, PopsInTheOrderPushed) {
  Job a(1), b(2), c(3);
  IntrusiveList<Job> list;
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.front(), nullptr);
  list.PushBack(&a.ready);
  list.PushBack(&b.ready);
  list.PushBack(&c.ready);
  EXPECT_FALSE(list.empty());
  EXPECT_EQ(list.front(), &a.ready);
  EXPECT_EQ(Drain(&list), (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(list.empty());
  EXPECT_FALSE(a.ready.linked());
  EXPECT_EQ(list.PopFront(), nullptr);
}

TEST(IntrusiveListTest, PushBackOfALinkedHookIsANoOp) {
  Job a(1), b(2);
  IntrusiveList<Job> list;
  IntrusiveList<Job> other;
  list.PushBack(&a.ready);
  list.PushBack(&b.ready);
  list.PushBack(&a.ready);   // already on this list: stays first, not appended again
  other.PushBack(&b.ready);  // on another list: stays there
  EXPECT_TRUE(other.empty());
  EXPECT_EQ(Drain(&list), (std::vector<int>{1, 2}));
}

TEST(IntrusiveListTest, AHookLeavesItsListWhenItsOwnerIsDestroyed) {
  Job a(1), c(3);
  auto b = std::make_unique<Job>(2);
  IntrusiveList<Job> list;
  list.PushBack(&a.ready);
  list.PushBack(&b->ready);
  list.PushBack(&c.ready);
  b.reset();  // ASan: the list must not name freed memory afterwards
  EXPECT_EQ(Drain(&list), (std::vector<int>{1, 3}));
}

TEST(IntrusiveListTest, AnOwnerDestroyedAloneLeavesTheListEmpty) {
  auto a = std::make_unique<Job>(1);
  IntrusiveList<Job> list;
  list.PushBack(&a->ready);
  a.reset();
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.PopFront(), nullptr);
}

TEST(IntrusiveListTest, UnlinkTakesOneEntryOutAndIsIdempotent) {
  Job a(1), b(2), c(3);
  IntrusiveList<Job> list;
  list.PushBack(&a.ready);
  list.PushBack(&b.ready);
  list.PushBack(&c.ready);
  b.ready.Unlink();
  EXPECT_FALSE(b.ready.linked());
  b.ready.Unlink();
  EXPECT_EQ(Drain(&list), (std::vector<int>{1, 3}));
}

TEST(IntrusiveListTest, MoveAllToAppendsEveryEntryInOrder) {
  Job a(1), b(2), c(3), d(4);
  IntrusiveList<Job> from;
  IntrusiveList<Job> to;
  to.PushBack(&a.ready);
  from.PushBack(&b.ready);
  from.PushBack(&c.ready);
  from.PushBack(&d.ready);
  from.MoveAllTo(&to);
  EXPECT_TRUE(from.empty());
  EXPECT_TRUE(b.ready.linked());
  EXPECT_EQ(Drain(&to), (std::vector<int>{1, 2, 3, 4}));
}

TEST(IntrusiveListTest, DestroyingTheListUnlinksItsHooks) {
  Job a(1), b(2);
  {
    IntrusiveList<Job> list;
    list.PushBack(&a.ready);
    list.PushBack(&b.ready);
  }
  EXPECT_FALSE(a.ready.linked());
  EXPECT_FALSE(b.ready.linked());
  IntrusiveList<Job> again;  // and they may be listed again
  again.PushBack(&b.ready);
  again.PushBack(&a.ready);
  EXPECT_EQ(Drain(&again), (std::vector<int>{2, 1}));
}

TEST(TimerListTest, OldestIsTheFirstTouched) {
  Job a(1), b(2);
  TimerList<Job> timers;
  EXPECT_EQ(timers.Oldest(), nullptr);
  timers.Touch(&a.timer, 100);
  timers.Touch(&b.timer, 200);
  ASSERT_NE(timers.Oldest(), nullptr);
  EXPECT_EQ(timers.Oldest()->owner(), &a);
  EXPECT_EQ(timers.Oldest()->started(), 100);
}

TEST(TimerListTest, TouchRestartsATimerAndMakesItTheNewest) {
  Job a(1), b(2), c(3);
  TimerList<Job> timers;
  timers.Touch(&a.timer, 100);
  timers.Touch(&b.timer, 200);
  timers.Touch(&c.timer, 300);
  timers.Touch(&a.timer, 400);
  EXPECT_EQ(a.timer.started(), 400);
  std::vector<int> order;
  while (TimerHook<Job>* oldest = timers.Oldest()) {
    order.push_back(oldest->owner()->id);
    TimerList<Job>::Remove(oldest);
  }
  EXPECT_EQ(order, (std::vector<int>{2, 3, 1}));
}

TEST(TimerListTest, RemoveStopsATimer) {
  Job a(1), b(2);
  TimerList<Job> timers;
  timers.Touch(&a.timer, 100);
  timers.Touch(&b.timer, 200);
  TimerList<Job>::Remove(&a.timer);
  EXPECT_FALSE(a.timer.linked());
  ASSERT_NE(timers.Oldest(), nullptr);
  EXPECT_EQ(timers.Oldest()->owner(), &b);
  TimerList<Job>::Remove(&a.timer);  // not running: nothing happens
  TimerList<Job>::Remove(&b.timer);
  EXPECT_EQ(timers.Oldest(), nullptr);
}

TEST(TimerListTest, ATimerLeavesItsListWhenItsOwnerIsDestroyed) {
  auto a = std::make_unique<Job>(1);
  Job b(2);
  TimerList<Job> timers;
  timers.Touch(&a->timer, 100);
  timers.Touch(&b.timer, 200);
  a.reset();
  ASSERT_NE(timers.Oldest(), nullptr);
  EXPECT_EQ(timers.Oldest()->owner(), &b);
}

}  // namespace
}  // namespace common
