// TurnEndHooks: each hook asked for in a turn runs once at its end, and one asked for while the
// hooks run waits for the next turn.
#include "server/worker/turn_end_hooks.h"

#include <functional>

#include "gtest/gtest.h"

namespace server {
namespace {

class CountingHook : public handlers::TurnEndHook {
 public:
  void AtTurnEnd() override {
    ++runs;
    if (then) then();
  }
  int runs = 0;
  std::function<void()> then;
};

TEST(TurnEndHooksTest, EachHookRunsOnceAtTheEndOfTheTurnItWasAskedIn) {
  TurnEndHooks hooks;
  CountingHook a, b;
  EXPECT_FALSE(hooks.pending());
  for (int i = 0; i < 5; ++i) hooks.CallAtEnd(&a);
  hooks.CallAtEnd(&b);
  EXPECT_TRUE(hooks.pending());
  EXPECT_EQ(a.runs, 0) << "nothing runs before the turn ends";
  hooks.Run();
  EXPECT_EQ(a.runs, 1);
  EXPECT_EQ(b.runs, 1);
  EXPECT_FALSE(hooks.pending());
  hooks.Run();  // a turn in which nobody asked
  EXPECT_EQ(a.runs, 1);
  hooks.CallAtEnd(&a);
  hooks.Run();
  EXPECT_EQ(a.runs, 2) << "asked again in a later turn, run again";
}

TEST(TurnEndHooksTest, AHookAskedForWhileHooksRunWaitsForTheNextTurn) {
  TurnEndHooks hooks;
  CountingHook a, b;
  a.then = [&] { hooks.CallAtEnd(&b); };
  hooks.CallAtEnd(&a);
  hooks.Run();
  EXPECT_EQ(b.runs, 0);
  EXPECT_TRUE(hooks.pending()) << "the worker must turn again at once";
  hooks.Run();
  EXPECT_EQ(b.runs, 1);
  EXPECT_FALSE(hooks.pending());
}

}  // namespace
}  // namespace server
