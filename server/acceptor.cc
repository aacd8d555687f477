#include "server/acceptor.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "protocol/frame.h"
#include "server/socket.h"

namespace server {
namespace {
// How long accepting pauses after the descriptor limit is hit.
constexpr int kFdLimitPauseMillis = 100;
}  // namespace

Acceptor::Acceptor(const ServerOptions& options, std::vector<Worker*> workers, ServerStats* stats)
    : options_(options), workers_(std::move(workers)), stats_(stats) {}

Acceptor::~Acceptor() {
  Stop();
  for (const Listener& l : listeners_) close(l.fd);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  if (reserve_fd_ >= 0) close(reserve_fd_);
}

absl::Status Acceptor::Start(std::vector<Listener> listeners) {
  listeners_ = std::move(listeners);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (epoll_fd_ < 0 || stop_fd_ < 0) {
    return absl::InternalError(absl::StrCat("acceptor: ", std::strerror(errno)));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = nullptr;  // null marks the stop descriptor
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &event);
  SetListening(true);
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Acceptor::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof(one));
  thread_.join();
  for (const Listener& l : listeners_) close(l.fd);
  listeners_.clear();
}

void Acceptor::SetListening(bool on) {
  for (Listener& l : listeners_) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = &l;
    epoll_ctl(epoll_fd_, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l.fd, &event);
  }
  paused_ = !on;
}

void Acceptor::Run() {
  epoll_event events[8];
  while (true) {
    const int n = epoll_wait(epoll_fd_, events, 8, paused_ ? kFdLimitPauseMillis : -1);
    if (n < 0 && errno != EINTR) PLOG(FATAL) << "acceptor epoll_wait";
    if (paused_) SetListening(true);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) return;  // Stop()
      if (!paused_) AcceptFrom(*static_cast<Listener*>(events[i].data.ptr));
    }
  }
}

void Acceptor::AcceptFrom(const Listener& listener) {
  // Bounded, so a connection flood cannot keep Stop() waiting.
  for (int accepted = 0; accepted < 256; ++accepted) {
    const int fd = accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
        return;
      }
      if (errno == EMFILE || errno == ENFILE) {
        stats_->acceptor().accept_pauses.Add(1);
        LOG_EVERY_N(WARNING, 100) << "out of file descriptors; pausing accepts for "
                                  << kFdLimitPauseMillis << " ms";
        if (reserve_fd_ >= 0) {  // free one descriptor to accept and drop the waiting client
          close(reserve_fd_);
          const int shed = accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (shed >= 0) close(shed);
          reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        SetListening(false);
        return;
      }
      PLOG(ERROR) << "accept";
      return;
    }
    stats_->acceptor().accepted.Add(1);
    if (stats_->open_connections.load(std::memory_order_relaxed) >= options_.max_connections) {
      Refuse(fd);
      continue;
    }
    SetNoDelay(fd);
    stats_->open_connections.fetch_add(1, std::memory_order_relaxed);
    workers_[next_worker_]->Adopt(fd, listener.factory);
    next_worker_ = (next_worker_ + 1) % workers_.size();
  }
}

void Acceptor::Refuse(int fd) {
  stats_->acceptor().rejected_limit.Add(1);
  LOG_EVERY_N(WARNING, 100) << "refusing " << PeerName(fd) << ": connection limit "
                            << options_.max_connections << " reached";
  protocol::Buffer reply;
  protocol::AppendErrorFrame(
      absl::ResourceExhaustedError(absl::StrCat("server connection limit (",
                                                options_.max_connections, ") reached")),
      &reply);
  // Best effort: a fresh socket's send buffer is empty, so this does not block or fall short.
  (void)!send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  close(fd);
}

}  // namespace server
