#include "server/upstream/calls.h"

#include <algorithm>
#include <utility>

#include "common/event_loop.h"

namespace server {
namespace upstream {

Calls::Call& Calls::New(handlers::UpstreamCallback&& done, absl::Duration timeout,
                        int64_t now_ns) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
    slots_.back().index = index;
  }
  Call& call = slots_[index];
  call.live = true;
  call.done = std::move(done);
  ++waiting_;
  Deadlines* list = nullptr;
  for (auto& d : deadlines_) {
    if (d->timeout == timeout) list = d.get();
  }
  if (list == nullptr) {
    deadlines_.push_back(std::make_unique<Deadlines>());
    list = deadlines_.back().get();
    list->timeout = timeout;
    list->timeout_ns = std::max<int64_t>(1, absl::ToInt64Nanoseconds(timeout));
  }
  call.timeout_ns = list->timeout_ns;
  list->calls.Touch(&call.timer, now_ns);
  return call;
}

Calls::Call* Calls::Find(uint64_t id) {
  const uint64_t index = id & 0xffffffffu;
  if (index >= slots_.size()) return nullptr;
  Call& call = slots_[index];
  return call.live && call.generation == (id >> 32) ? &call : nullptr;
}

void Calls::Keep(Call& call, absl::string_view request) {
  if (call.kept) return;
  call.request = std::string(request);
  call.kept = true;
  kept_bytes_ += static_cast<int64_t>(call.request.capacity());
}

handlers::UpstreamCallback Calls::Release(Call& call) {
  handlers::UpstreamCallback done = std::move(call.done);
  common::TimerList<Call>::Remove(&call.timer);
  if (call.kept) kept_bytes_ -= static_cast<int64_t>(call.request.capacity());
  call.request = std::string();
  call.kept = false;
  call.tried = 0;
  call.attempts = 0;
  call.health_check = false;
  call.connection = nullptr;
  call.live = false;
  ++call.generation;
  free_.push_back(call.index);
  --waiting_;
  return done;
}

Calls::Call* Calls::OldestDue(int64_t now_ns) {
  for (auto& d : deadlines_) {
    common::TimerHook<Call>* oldest = d->calls.Oldest();
    if (oldest != nullptr && oldest->started() + d->timeout_ns <= now_ns) return oldest->owner();
  }
  return nullptr;
}

int64_t Calls::NextDeadlineNs() const {
  int64_t next = common::EventLoop::kNoDeadline;
  for (const auto& d : deadlines_) {
    if (const common::TimerHook<Call>* oldest = d->calls.Oldest()) {
      next = std::min(next, oldest->started() + d->timeout_ns);
    }
  }
  return next;
}

std::vector<uint64_t> Calls::Waiting() const {
  std::vector<uint64_t> ids;
  for (const Call& call : slots_) {
    if (call.live) ids.push_back(call.id());
  }
  return ids;
}

}  // namespace upstream
}  // namespace server
