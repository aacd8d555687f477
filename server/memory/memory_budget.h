// MemoryBudget: the server-wide bound on the bytes held for connections (--max_buffer_memory):
// partial input frames, replies not yet written or held in order, and requests queued for the
// handler threads. Workers charge what their connections hold as it changes; when the total
// passes the limit, a worker stops reading from the connection that grew and closes the
// connections that hold the most (the policy: docs/RELIABILITY.md, "Memory budget").
//
//   MemoryBudget budget(1 << 30);
//   budget.Charge(+4096);          // a connection now holds 4 KiB more
//   if (budget.over()) { ... }     // pause, evict
//
// Thread-safe (one atomic): workers and handler threads charge it concurrently; a handler that
// queues requests itself (the kv handler's group commit) charges it through MemoryAccount.
#ifndef SERVER_MEMORY_MEMORY_BUDGET_H_
#define SERVER_MEMORY_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>

#include "handlers/handler.h"

namespace server {

class MemoryBudget : public handlers::MemoryAccount {
 public:
  explicit MemoryBudget(int64_t limit_bytes) : limit_(limit_bytes) {}

  void Charge(int64_t delta) { used_.fetch_add(delta, std::memory_order_relaxed); }
  // For handlers (handlers/handler.h): charges only what keeps the total within half the
  // limit. A handler's queue cannot be freed by closing connections, so it must leave the
  // eviction, which closes the largest holders until the total is under 7/8 of the limit
  // (room_to_resume), a target it can reach; and the connections room for their replies.
  bool TryCharge(int64_t bytes) override {
    int64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used + bytes > HandlerShare()) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }
  // The most TryCharge lets the total reach.
  int64_t HandlerShare() const { return limit_ / 2; }
  void Release(int64_t bytes) override { Charge(-bytes); }
  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }
  bool over() const { return used() > limit_; }
  // Connections paused for memory read again once the total is back under this mark (7/8 of
  // the limit), so that they are not paused and resumed at every byte.
  bool room_to_resume() const { return used() <= limit_ - limit_ / 8; }

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

}  // namespace server

#endif  // SERVER_MEMORY_MEMORY_BUDGET_H_
