// Worker: shutdown and the closing of connections. See worker.h.
#include <sys/socket.h>
#include <unistd.h>

#include "glog/logging.h"
#include "server/worker.h"

namespace server {

void Worker::BeginDrain(int64_t deadline_ns) {
  if (draining_) return;
  draining_ = true;
  deadline_ns_ = deadline_ns;
  while (waiting_next_ < waiting_.size()) AdoptWaiting();  // no newcomer is left out
  LOG(INFO) << "worker " << id_ << " draining " << connections_.size() << " connections";
  // The connections that owe nothing close at the end of this turn (CloseConnectionsDone).
}

// While draining, at the end of every turn, once all the turn's events are handled. Not
// sooner: on io_uring, bytes the kernel has already received for a connection may wait in a
// completion further on in the same batch than the one being handled (the drain's own task,
// or the connection's send), seen neither by its decoder nor by a peek at its socket; closing
// it then would drop requests it has sent (and reset it, cancelling the replies in flight).
void Worker::CloseConnectionsDone() {
  for (Connection* c : Snapshot()) CloseIfDone(c);
}

// A connection that owes nothing and has nothing more in flight is done.
void Worker::CloseIfDone(Connection* c) {
  if (c->closed() || !c->OwesNothing() || c->on_ready_list) return;
  char byte;
  const ssize_t n = recv(c->fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return;  // requests are waiting: the loop will read and answer them
  Close(c);
}

// The grace period is over: requests still waiting for a handler get an error reply, the
// replies go out as far as the socket takes them, and every connection closes.
void Worker::CloseAllAtDeadline() {
  if (connections_.empty()) return;
  LOG(WARNING) << "worker " << id_ << ": shutdown grace over, closing " << connections_.size()
               << " connections";
  const absl::Status shutting_down = absl::UnavailableError("server shutting down");
  for (Connection* c : Snapshot()) {
    for (const ReplyOrder::Waiting& waiting : c->order.WaitingPlaces()) {
      AnswerWaiting(c, waiting.id, shutting_down);
    }
    c->FlushNow();  // best effort, never waiting
    Close(c);
  }
}

void Worker::Close(Connection* c) {
  if (c->closed()) return;
  for (const ReplyOrder::Waiting& waiting : c->order.WaitingPlaces()) {
    request_deadlines_.Remove(c, waiting.id, waiting.started_ns);
  }
  // Answers held in order behind one still waiting are lost with the connection; the waiting
  // ones are counted when their answers arrive (OnLateReply).
  stats_.replies_discarded.Add(c->order.size() - c->order.waiting());
  idle_timers_.Remove(&c->idle_timer);
  frame_timers_.Remove(&c->frame_timer);
  budget_.Charge(-c->charged);
  c->charged = 0;
  c->Close();  // also leaves the epoll set, and cuts the link for late answers
  stats_.active_connections.Add(-1);
  server_stats_->open_connections.fetch_sub(1, std::memory_order_relaxed);
  // Freed at the end of the loop turn: later events of this turn may still name it.
  auto it = connections_.find(c);
  closed_.push_back(std::move(it->second));
  connections_.erase(it);
}

void Worker::FreeClosed() {
  if (!closing_.empty()) {  // their buffers were freed when they closed (ReleaseBuffers)
    auto idle = [](const std::unique_ptr<Connection>& c) { return c->io_idle(); };
    closing_.erase(std::remove_if(closing_.begin(), closing_.end(), idle), closing_.end());
  }
  if (closed_.empty()) return;
  auto is_closed = [](Connection* c) { return c->closed(); };
  ready_.erase(std::remove_if(ready_.begin(), ready_.end(), is_closed), ready_.end());
  writers_.erase(std::remove_if(writers_.begin(), writers_.end(), is_closed), writers_.end());
  memory_paused_.erase(std::remove_if(memory_paused_.begin(), memory_paused_.end(), is_closed),
                       memory_paused_.end());
  for (std::unique_ptr<Connection>& c : closed_) {
    if (c->io_idle()) continue;
    c->ReleaseBuffers();
    closing_.push_back(std::move(c));
  }
  closed_.clear();  // drops each handler instance: its "connection closed" notice
  memory_release_.NoteClosed(now_ns_);
}

std::vector<Connection*> Worker::Snapshot() const {
  std::vector<Connection*> all;
  all.reserve(connections_.size());
  for (const auto& entry : connections_) all.push_back(entry.first);
  return all;
}

void Worker::UpdatePendingOutputMax() {
  int64_t largest = 0;
  size_t kept = 0;
  for (Connection* c : writers_) {
    if (!(c->registered_events & EPOLLOUT)) continue;  // drained since
    writers_[kept++] = c;
    largest = std::max<int64_t>(largest, c->output.size());
  }
  writers_.resize(kept);
  if (stats_.pending_output_max.value() != largest) stats_.pending_output_max.Set(largest);
}

}  // namespace server
