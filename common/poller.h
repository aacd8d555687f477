// Poller: one epoll set. Each registered descriptor names a Watcher, whose OnEvents() the
// owner of the set calls with the ready events (EventLoop does; so does a worker's probation
// set). It knows nothing of what the descriptors are.
//
//   Poller poller;
//   CHECK_OK(poller.Init());
//   poller.Set(fd, EPOLLIN, &watcher, /*registered=*/false);
//   epoll_event events[64];
//   for (int i = 0, n = poller.Wait(events, 64, -1); i < n; ++i)
//     Poller::WatcherOf(events[i])->OnEvents(events[i].events);
//
// Not thread-safe: one thread uses a Poller.
#ifndef COMMON_POLLER_H_
#define COMMON_POLLER_H_

#include <sys/epoll.h>

#include <cstdint>

#include "absl/status/status.h"

namespace common {

class Watcher {
 public:
  virtual ~Watcher() = default;
  // `events` are EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR bits.
  virtual void OnEvents(uint32_t events) = 0;
};

class Poller {
 public:
  Poller() = default;
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  absl::Status Init();

  // Registers `fd` (registered == false) or changes its interest to `events`.
  absl::Status Set(int fd, uint32_t events, Watcher* watcher, bool registered);
  void Remove(int fd);

  // epoll_wait: returns the number of ready events (0 on timeout or EINTR).
  int Wait(epoll_event* events, int max_events, int timeout_ms);

  static Watcher* WatcherOf(const epoll_event& event) {
    return static_cast<Watcher*>(event.data.ptr);
  }
  int fd() const { return epoll_fd_; }

 private:
  int epoll_fd_ = -1;
};

}  // namespace common

#endif  // COMMON_POLLER_H_
