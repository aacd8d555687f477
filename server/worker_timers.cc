// Worker: its timers (idle, incomplete frame, handler deadlines, shutdown grace) and when the
// loop must wake for them. See worker.h.
#include <algorithm>

#include "glog/logging.h"
#include "server/socket.h"
#include "server/worker.h"

namespace server {

// The frame timer runs only while the client owes the rest of a frame it has started (on
// TLS, or of a record: bytes OpenSSL holds).
void Worker::UpdateFrameTimer(Connection* c, bool frame_taken) {
  const bool incomplete_frame = (c->decoder.buffered_bytes() > 0 || c->input_pending()) &&
                                !c->on_ready_list && c->reading();
  if (!incomplete_frame) {
    frame_timers_.Remove(&c->frame_timer);
  } else if (frame_taken || !c->frame_timer.linked()) {
    frame_timers_.Touch(&c->frame_timer, now_ns_);  // a new frame started
  }
}

void Worker::ExpireTimers() {
  while (TimerNode* oldest = idle_timers_.Oldest()) {
    if (now_ns_ - oldest->started < idle_timeout_ns_) break;
    VLOG(1) << "closing idle connection " << PeerName(oldest->owner->fd());
    stats_.closed_idle_timeout.Add(1);
    Close(oldest->owner);
  }
  while (TimerNode* oldest = frame_timers_.Oldest()) {
    if (now_ns_ - oldest->started < frame_timeout_ns_) break;
    if (int suppressed; log_limiter_.Allow(now_ns_, &suppressed)) {
      LOG(WARNING) << "closing " << PeerName(oldest->owner->fd()) << ": frame not completed within "
                   << options_.frame_timeout << LogLimiter::Note(suppressed);
    }
    stats_.closed_frame_timeout.Add(1);
    Close(oldest->owner);
  }
  ExpireRequests();
  if (draining_ && now_ns_ >= deadline_ns_) CloseAllAtDeadline();
}

int64_t Worker::NextDeadlineNs() const {
  if (!ready_.empty() || waiting_next_ < waiting_.size()) return 0;
  int64_t next = std::min(memory_release_.NextDeadlineNs(), request_deadlines_.NextDeadlineNs());
  if (const TimerNode* oldest = idle_timers_.Oldest()) {
    next = std::min(next, oldest->started + idle_timeout_ns_);
  }
  if (const TimerNode* oldest = frame_timers_.Oldest()) {
    next = std::min(next, oldest->started + frame_timeout_ns_);
  }
  if (draining_) next = std::min(next, deadline_ns_);
  if (!memory_paused_.empty()) next = std::min(next, now_ns_ + kMemoryRecheckNs);
  return next;
}

}  // namespace server
