// ProbationSet: where connections wait until they complete their first frame.
//
// New connections, and garbage that never completes a frame, are served from an epoll set of
// their own, at most kBatch events per loop turn and only after the ready events of the
// established connections. A flood of new or bad connections then slows down itself, not the
// clients already being served. The set is itself a descriptor of the main set, readable while
// any of its connections has an event. A connection's transport moves to the main set once its
// first frame is taken (server/net/transports.h).
//
//   ProbationSet probation;
//   CHECK_OK(probation.Init(&loop.poller()));
//   probation.poller().Set(fd, EPOLLIN, transport, false);
//   ... after the turn's events:  probation.ServeSome();
//
// Not thread-safe: one per worker.
#ifndef SERVER_WORKER_PROBATION_H_
#define SERVER_WORKER_PROBATION_H_

#include "absl/status/status.h"
#include "common/poller.h"

namespace server {

class ProbationSet : public common::Watcher {
 public:
  // Events served, and handed-over connections adopted, per loop turn.
  static constexpr int kBatch = 8;

  absl::Status Init(common::Poller* main) {
    if (absl::Status status = poller_.Init(); !status.ok()) return status;
    return main->Set(poller_.fd(), EPOLLIN, this, /*registered=*/false);
  }
  common::Poller& poller() { return poller_; }

  // If any connection on probation has an event, serves up to kBatch of them.
  void ServeSome() {
    if (!ready_) return;
    ready_ = false;
    epoll_event events[kBatch];
    const int n = poller_.Wait(events, kBatch, 0);
    for (int i = 0; i < n; ++i) common::Poller::WatcherOf(events[i])->OnEvents(events[i].events);
  }

 private:
  void OnEvents(uint32_t) override { ready_ = true; }  // served after the established ones

  common::Poller poller_;
  bool ready_ = false;
};

}  // namespace server

#endif  // SERVER_WORKER_PROBATION_H_
