#include "server/worker/drainer.h"

#include "common/event_loop.h"
#include "glog/logging.h"

namespace server {

void Drainer::Begin(int64_t deadline_ns) {
  if (draining_) return;
  draining_ = true;
  deadline_ns_ = deadline_ns;
  LOG(INFO) << "worker " << worker_id_ << " draining " << connections_.size() << " connections";
}

void Drainer::OnTurnEnd(int64_t now_ns) {
  if (!draining_) return;
  if (now_ns >= deadline_ns_) {
    CloseAll();
    return;
  }
  for (Connection* c : connections_.Snapshot()) {
    if (c->Done()) c->Close();
  }
}

// The grace period is over: requests still waiting for a handler get an error reply, the
// replies go out as far as the socket takes them, and every connection closes.
void Drainer::CloseAll() {
  if (connections_.size() == 0) return;
  LOG(WARNING) << "worker " << worker_id_ << ": shutdown grace over, closing "
               << connections_.size() << " connections";
  const absl::Status shutting_down = absl::UnavailableError("server shutting down");
  for (Connection* c : connections_.Snapshot()) c->CloseAnswering(shutting_down);
}

int64_t Drainer::NextDeadlineNs() const {
  return draining_ ? deadline_ns_ : common::EventLoop::kNoDeadline;
}

}  // namespace server
