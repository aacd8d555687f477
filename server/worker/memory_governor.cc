#include "server/worker/memory_governor.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "glog/logging.h"
#include "protocol/memory_block.h"

namespace server {
namespace {

// A connection holding less than this is never closed for the budget: it is not what fills it
// (an idle connection keeps buffers of a few KiB), and closing it would free next to nothing.
constexpr int64_t kEvictMinBytes = 64 << 10;

}  // namespace

MemoryGovernor::MemoryGovernor(MemoryBudget* budget, const ServerOptions& options,
                               const ConnectionSet* connections, WorkerStats* stats,
                               common::LogLimiter* log, std::function<void()> evict_elsewhere,
                               int64_t now_ns)
    : budget_(*budget),
      max_pending_output_(options.max_pending_output_bytes),
      block_cache_bytes_(static_cast<size_t>(options.max_buffer_memory / 8 / WorkerCount(options))),
      connections_(*connections),
      stats_(stats),
      log_(log),
      evict_elsewhere_(std::move(evict_elsewhere)),
      release_(now_ns) {}

void MemoryGovernor::CapBlockCache() const {
  protocol::MemoryBlock::SetThreadCacheLimit(block_cache_bytes_);
}

size_t MemoryGovernor::MaxPendingOutput(const Connection& c) const {
  const int64_t room = std::max<int64_t>(0, budget_.limit() - budget_.used());
  return std::min(max_pending_output_, c.pending_output() + static_cast<size_t>(room));
}

void MemoryGovernor::Account(Connection* c) {
  int64_t& charged = c->hooks().charged;
  const int64_t held = c->HeldBytes();
  if (held == charged) return;
  budget_.Charge(held - charged);
  charged = held;
  if (!budget_.over()) return;
  if (c->PauseForMemory()) paused_.PushBack(&c->hooks().memory_paused);
  EvictLargest(common::MonotonicNanos());
  if (!budget_.room_to_resume() && evict_elsewhere_) evict_elsewhere_();
}

void MemoryGovernor::Forget(Connection* c) {
  budget_.Charge(-c->hooks().charged);
  c->hooks().charged = 0;
  c->hooks().memory_paused.Unlink();
}

void MemoryGovernor::EvictLargest(int64_t now_ns) {
  if (!budget_.over()) return;
  std::vector<Connection*> holders;
  for (Connection* c : connections_.Snapshot()) {
    if (!c->closed() && c->hooks().charged >= kEvictMinBytes) holders.push_back(c);
  }
  std::sort(holders.begin(), holders.end(), [](Connection* a, Connection* b) {
    return a->hooks().charged > b->hooks().charged;
  });
  for (Connection* c : holders) {
    if (budget_.room_to_resume()) break;
    if (int suppressed; log_->Allow(now_ns, &suppressed)) {
      LOG(WARNING) << "closing " << c->peer() << ": it holds " << c->hooks().charged
                   << " bytes and --max_buffer_memory=" << budget_.limit() << " is exceeded ("
                   << budget_.used() << " bytes held)" << common::LogLimiter::Note(suppressed);
    }
    stats_->closed_memory_budget.Add(1);
    c->Close();
    release_.NoteEvicted();
  }
}

void MemoryGovernor::ResumePaused() {
  if (paused_.empty() || !budget_.room_to_resume()) return;
  while (Connection* c = paused_.PopFront()) c->ResumeAfterMemory();
}

void MemoryGovernor::OnTurnEnd(int64_t now_ns, int events, int freed) {
  if (freed > 0) release_.NoteClosed(now_ns);
  release_.MaybeRelease(now_ns, events);
}

int64_t MemoryGovernor::NextDeadlineNs(int64_t now_ns) const {
  const int64_t next = release_.NextDeadlineNs();
  return paused_.empty() ? next : std::min(next, now_ns + kRecheckNs);
}

}  // namespace server
