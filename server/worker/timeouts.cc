#include "server/worker/timeouts.h"

#include <algorithm>

#include "common/event_loop.h"
#include "glog/logging.h"

namespace server {

Timeouts::Timeouts(absl::Duration idle, absl::Duration frame, WorkerStats* stats,
                   common::LogLimiter* log)
    : idle_ns_(absl::ToInt64Nanoseconds(idle)),
      frame_ns_(absl::ToInt64Nanoseconds(frame)),
      frame_timeout_(frame),
      stats_(stats),
      log_(log) {}

void Timeouts::FrameProgress(Connection* c, bool incomplete, bool started, int64_t now_ns) {
  common::TimerHook<Connection>* hook = &c->hooks().frame;
  if (!incomplete) {
    common::TimerList<Connection>::Remove(hook);
  } else if (started || !hook->linked()) {
    frame_.Touch(hook, now_ns);  // a new frame started
  }
}

void Timeouts::Forget(Connection* c) {
  common::TimerList<Connection>::Remove(&c->hooks().idle);
  common::TimerList<Connection>::Remove(&c->hooks().frame);
}

void Timeouts::Expire(int64_t now_ns) {
  while (common::TimerHook<Connection>* oldest = idle_.Oldest()) {
    if (now_ns - oldest->started() < idle_ns_) break;
    Connection* c = oldest->owner();
    Forget(c);  // before Close(): the loop ends even if Close() has nothing to do
    VLOG(1) << "closing idle connection " << c->peer();
    stats_->closed_idle_timeout.Add(1);
    c->Close();
  }
  while (common::TimerHook<Connection>* oldest = frame_.Oldest()) {
    if (now_ns - oldest->started() < frame_ns_) break;
    Connection* c = oldest->owner();
    Forget(c);
    if (int suppressed; log_->Allow(now_ns, &suppressed)) {
      LOG(WARNING) << "closing " << c->peer() << ": frame not completed within " << frame_timeout_
                   << common::LogLimiter::Note(suppressed);
    }
    stats_->closed_frame_timeout.Add(1);
    c->Close();
  }
}

int64_t Timeouts::NextDeadlineNs() const {
  int64_t next = common::EventLoop::kNoDeadline;
  if (const auto* oldest = idle_.Oldest()) next = std::min(next, oldest->started() + idle_ns_);
  if (const auto* oldest = frame_.Oldest()) next = std::min(next, oldest->started() + frame_ns_);
  return next;
}

}  // namespace server
