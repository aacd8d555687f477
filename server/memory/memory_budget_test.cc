// MemoryBudget: the workers' charges, and the handlers' share that eviction can always get
// back under (TryCharge never takes the total past half the limit).
#include "server/memory/memory_budget.h"

#include "gtest/gtest.h"

namespace server {
namespace {

TEST(MemoryBudgetTest, ChargesAddUpAndOverIsPastTheLimit) {
  MemoryBudget budget(1000);
  budget.Charge(600);
  budget.Charge(400);
  EXPECT_EQ(budget.used(), 1000);
  EXPECT_FALSE(budget.over());
  budget.Charge(1);
  EXPECT_TRUE(budget.over());
  budget.Charge(-1001);
  EXPECT_EQ(budget.used(), 0);
}

TEST(MemoryBudgetTest, ReadingResumesOnlyUnderSevenEighths) {
  MemoryBudget budget(800);
  budget.Charge(701);
  EXPECT_FALSE(budget.room_to_resume());
  budget.Charge(-1);
  EXPECT_TRUE(budget.room_to_resume());
}

TEST(MemoryBudgetTest, HandlersMayFillHalfTheBudgetAndNoMore) {
  MemoryBudget budget(1000);
  EXPECT_TRUE(budget.TryCharge(500));
  EXPECT_FALSE(budget.TryCharge(1)) << "past half the limit";
  EXPECT_EQ(budget.used(), 500) << "a refused charge charged something";
  budget.Release(500);
  EXPECT_EQ(budget.used(), 0);
}

TEST(MemoryBudgetTest, ConnectionsCountAgainstTheHandlersShare) {
  MemoryBudget budget(1000);
  budget.Charge(400);  // the workers' connections
  EXPECT_FALSE(budget.TryCharge(101));
  EXPECT_TRUE(budget.TryCharge(100));
  // What eviction can free (the connections' 400) brings the total under 7/8 again.
  budget.Charge(600);
  EXPECT_TRUE(budget.over());
  budget.Charge(-1000);
  EXPECT_TRUE(budget.room_to_resume());
  EXPECT_EQ(budget.used(), 100);
}

}  // namespace
}  // namespace server
