// Worker: the server-wide memory budget (--max_buffer_memory). See server/memory/memory_budget.h.
//
// The policy, in the order it acts:
//   1. Every connection's held bytes (HeldBytes: partial input, unsent and held replies) are
//      charged to the budget after each read and write.
//   2. When the total passes the limit, the connection that just grew stops being read if it
//      holds a partial frame: it asked for more memory, and TCP now holds its bytes back.
//   3. This worker closes its connections that hold the most, largest first, until the total
//      is under 7/8 of the limit (Redis's maxmemory-clients evicts the same way); if its own do
//      not suffice, the other workers are asked to do the same with theirs.
//   4. Paused connections are read again once the total is under 7/8 of the limit.
// A client that sends whole frames and reads its replies holds almost nothing between reads,
// so it is the last to be closed, and never while it holds less than 64 KiB.
#include <algorithm>
#include <vector>

#include "glog/logging.h"
#include "protocol/memory_block.h"
#include "server/socket.h"
#include "server/worker.h"

namespace server {
namespace {

// A connection holding less than this is never closed for the budget: it is not what fills it
// (an idle connection keeps buffers of a few KiB), and closing it would free next to nothing.
constexpr int64_t kEvictMinBytes = 64 << 10;

}  // namespace

// Replies stop at the per-connection bound, or sooner where the budget has no room for more
// (then, as at the bound, the connection waits until its client reads).
size_t Worker::MaxPendingOutput(const Connection& c) const {
  const int64_t room = std::max<int64_t>(0, budget_.limit() - budget_.used());
  return std::min(options_.max_pending_output_bytes, c.output.size() + static_cast<size_t>(room));
}

// Cached huge-page blocks stay resident: all workers' together, at most 1/8 of the budget.
void Worker::CapBlockCache() const {
  protocol::MemoryBlock::SetThreadCacheLimit(
      static_cast<size_t>(options_.max_buffer_memory / 8 / WorkerCount(options_)));
}

void Worker::Account(Connection* c) {
  const int64_t held = c->HeldBytes();
  if (held == c->charged) return;
  budget_.Charge(held - c->charged);
  c->charged = held;
  if (budget_.over()) EnforceBudget(c);
}

void Worker::EnforceBudget(Connection* grown) {
  if (grown->reading() && (grown->decoder.buffered_bytes() > 0 || grown->input_pending())) {
    grown->memory_paused = true;
    memory_paused_.push_back(grown);
    stats_.reads_paused_memory.Add(1);
    UpdateInterest(grown);
  }
  EvictLargest();
  if (!budget_.room_to_resume() && evict_elsewhere_) evict_elsewhere_(id_);
}

void Worker::PostEviction() {
  if (eviction_posted_.exchange(true)) return;  // one is queued already
  loop_.Post([this] {
    eviction_posted_ = false;
    EvictLargest();
  });
}

void Worker::EvictLargest() {
  if (!budget_.over()) return;
  std::vector<Connection*> holders;
  for (const auto& [c, owned] : connections_) {
    if (!c->closed() && c->charged >= kEvictMinBytes) holders.push_back(c);
  }
  std::sort(holders.begin(), holders.end(),
            [](const Connection* a, const Connection* b) { return a->charged > b->charged; });
  for (Connection* c : holders) {
    if (budget_.room_to_resume()) break;
    if (int suppressed; log_limiter_.Allow(now_ns_, &suppressed)) {
      LOG(WARNING) << "closing " << PeerName(c->fd()) << ": it holds " << c->charged
                   << " bytes and --max_buffer_memory=" << budget_.limit() << " is exceeded ("
                   << budget_.used() << " bytes held)" << LogLimiter::Note(suppressed);
    }
    stats_.closed_memory_budget.Add(1);
    Close(c);
    memory_release_.NoteEvicted();
  }
}

void Worker::ResumeMemoryPaused() {
  if (memory_paused_.empty() || !budget_.room_to_resume()) return;
  for (Connection* c : memory_paused_) {
    if (c->closed()) continue;
    c->memory_paused = false;
    UpdateInterest(c);
    ListIfInputPending(c);
  }
  memory_paused_.clear();
}

}  // namespace server
