#include "common/poller.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace common {

Poller::~Poller() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

absl::Status Poller::Init() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return absl::InternalError(absl::StrCat("epoll_create1: ", std::strerror(errno)));
  return absl::OkStatus();
}

absl::Status Poller::Set(int fd, uint32_t events, Watcher* watcher, bool registered) {
  epoll_event event{};
  event.events = events;
  event.data.ptr = watcher;
  if (epoll_ctl(epoll_fd_, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event) != 0) {
    return absl::InternalError(absl::StrCat("epoll_ctl(", fd, "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void Poller::Remove(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

int Poller::Wait(epoll_event* events, int max_events, int timeout_ms) {
  const int n = epoll_wait(epoll_fd_, events, max_events, timeout_ms);
  if (n < 0 && errno != EINTR) PLOG(FATAL) << "epoll_wait";
  return n < 0 ? 0 : n;
}

}  // namespace common
