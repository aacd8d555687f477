// TurnEndHooks: a worker's handlers::TurnEnd (handlers/turn_end.h): the hooks its connections'
// handlers asked for during a turn, each run once when the turn's requests have been handled.
//
//   TurnEndHooks hooks;
//   context.turn_end = &hooks;  // the handlers' CallAtEnd(hook), as they handle requests
//   hooks.Run();                // the worker, at the end of each turn
//
// Not thread-safe: the worker's loop thread.
#ifndef SERVER_WORKER_TURN_END_HOOKS_H_
#define SERVER_WORKER_TURN_END_HOOKS_H_

#include <algorithm>
#include <vector>

#include "handlers/turn_end.h"

namespace server {

class TurnEndHooks : public handlers::TurnEnd {
 public:
  void CallAtEnd(handlers::TurnEndHook* hook) override {
    // A few hooks at most (one per service that asks): a scan beats a set.
    if (std::find(asked_.begin(), asked_.end(), hook) == asked_.end()) asked_.push_back(hook);
  }

  // Runs each hook asked for since the last Run(), once. One a hook asks for meanwhile waits
  // for the next Run().
  void Run() {
    running_.swap(asked_);
    for (handlers::TurnEndHook* hook : running_) hook->AtTurnEnd();
    running_.clear();
  }

  // Hooks wait for a Run(): the loop must turn again at once.
  bool pending() const { return !asked_.empty(); }

 private:
  std::vector<handlers::TurnEndHook*> asked_;
  std::vector<handlers::TurnEndHook*> running_;  // kept, for its capacity
};

}  // namespace server

#endif  // SERVER_WORKER_TURN_END_HOOKS_H_
