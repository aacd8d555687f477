#include "server/memory/memory_release.h"

#include <malloc.h>

#include <algorithm>

#include "common/event_loop.h"
#include "protocol/memory_block.h"

namespace server {
namespace {
constexpr int64_t kQuietBeforeReleaseNs = 1'000'000'000;
constexpr int64_t kMaxReleaseIntervalNs = 30'000'000'000;
constexpr int64_t kMinUrgentIntervalNs = 100'000'000;
}  // namespace

int64_t MemoryRelease::NextDeadlineNs() const {
  if (!pending_) return common::EventLoop::kNoDeadline;
  if (urgent_) return released_ns_ + kMinUrgentIntervalNs;
  return std::min(closed_ns_ + kQuietBeforeReleaseNs, released_ns_ + kMaxReleaseIntervalNs);
}

void MemoryRelease::MaybeRelease(int64_t now_ns, int events) {
  if (!pending_ || now_ns < NextDeadlineNs()) return;
  // A busy turn waits for quiet, unless the release is urgent or 30 s overdue: a worker that
  // never stops closing connections would otherwise never trim.
  const bool overdue = now_ns >= released_ns_ + kMaxReleaseIntervalNs;
  if (events > 1 && !urgent_ && !overdue) return;
  protocol::MemoryBlock::ReleaseCachedBlocks();
  malloc_trim(0);
  pending_ = false;
  urgent_ = false;
  released_ns_ = now_ns;
  ++releases_;
}

}  // namespace server
