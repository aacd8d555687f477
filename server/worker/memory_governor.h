// MemoryGovernor: one worker's side of the server-wide memory budget (--max_buffer_memory,
// server/memory/memory_budget.h), and giving freed memory back to the kernel.
//
// The policy, in the order it acts:
//   1. Every connection's held bytes (partial input, unsent and held replies) are charged to
//      the budget after each read and write (Account).
//   2. When the total passes the limit, the connection that just grew stops being read if it
//      holds a partial frame: it asked for more memory, and TCP now holds its bytes back.
//   3. This worker closes its connections that hold the most, largest first, until the total
//      is under 7/8 of the limit (Redis's maxmemory-clients evicts the same way); if its own do
//      not suffice, the other workers are asked to do the same with theirs.
//   4. Paused connections are read again once the total is under 7/8 of the limit.
// A client that sends whole frames and reads its replies holds almost nothing between reads,
// so it is the last to be closed, and never while it holds less than 64 KiB.
//
//   MemoryGovernor governor(&budget, options, &connections, &stats, &log, evict_elsewhere);
//   governor.Account(c);              // after c read or wrote
//   governor.ResumePaused();          // each turn
//   governor.OnTurnEnd(now, events, freed);
//
// Not thread-safe: the worker's loop thread (the budget itself is shared and atomic).
#ifndef SERVER_WORKER_MEMORY_GOVERNOR_H_
#define SERVER_WORKER_MEMORY_GOVERNOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "common/intrusive_list.h"
#include "common/log_limiter.h"
#include "server/config/options.h"
#include "server/memory/memory_budget.h"
#include "server/memory/memory_release.h"
#include "server/net/connection.h"
#include "server/stats/stats.h"
#include "server/worker/connection_set.h"

namespace server {

class MemoryGovernor {
 public:
  // While connections are paused for memory, the loop looks at the budget this often.
  static constexpr int64_t kRecheckNs = 10'000'000;

  // `evict_elsewhere` asks the other workers to evict (any thread). All pointers outlive it.
  MemoryGovernor(MemoryBudget* budget, const ServerOptions& options,
                 const ConnectionSet* connections, WorkerStats* stats, common::LogLimiter* log,
                 std::function<void()> evict_elsewhere, int64_t now_ns);

  // On the loop thread, before any allocation: caps the huge-page blocks cached for reuse
  // (all workers' together at most 1/8 of the budget).
  void CapBlockCache() const;

  // Charges what `c` holds now; enforces the budget if it is exceeded.
  void Account(Connection* c);
  // Replies stop at the per-connection bound, or sooner where the budget has no room for more
  // (then, as at the bound, the connection waits until its client reads).
  size_t MaxPendingOutput(const Connection& c) const;
  // `c` has closed: its charge goes back.
  void Forget(Connection* c);

  // Closes this worker's largest holders while the budget is exceeded.
  void EvictLargest(int64_t now_ns);
  // Reads the paused connections again if the budget has room.
  void ResumePaused();
  // After the turn: `freed` connections were freed; trims if it is time (memory_release.h).
  void OnTurnEnd(int64_t now_ns, int events, int freed);
  int64_t NextDeadlineNs(int64_t now_ns) const;

 private:
  MemoryBudget& budget_;
  const size_t max_pending_output_;
  const size_t block_cache_bytes_;
  const ConnectionSet& connections_;
  WorkerStats* const stats_;
  common::LogLimiter* const log_;
  const std::function<void()> evict_elsewhere_;
  common::IntrusiveList<Connection> paused_;  // not read until the budget has room
  MemoryRelease release_;
};

}  // namespace server

#endif  // SERVER_WORKER_MEMORY_GOVERNOR_H_
