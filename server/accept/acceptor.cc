#include "server/accept/acceptor.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/thread_name.h"
#include "glog/logging.h"
#include "protocol/frame.h"
#include "server/net/socket.h"

namespace server {
namespace {
// How long accepting pauses after the descriptor limit is hit.
constexpr int64_t kFdLimitPauseNs = 100'000'000;
// Connections accepted from one listener per event, so a flood cannot keep Stop() waiting.
constexpr int kMaxAcceptsPerEvent = 256;
}  // namespace

class Acceptor::ListenerWatcher : public common::Watcher {
 public:
  ListenerWatcher(Acceptor* acceptor, const Listener* listener)
      : acceptor_(acceptor), listener_(listener) {}
  void OnEvents(uint32_t) override { acceptor_->AcceptFrom(*listener_, kMaxAcceptsPerEvent); }

 private:
  Acceptor* const acceptor_;
  const Listener* const listener_;
};

Acceptor::Acceptor(const ServerOptions& options, ServerStats* stats, NewConnection on_connection)
    : options_(options), stats_(stats), on_connection_(std::move(on_connection)) {}

Acceptor::~Acceptor() {
  Stop();
  for (const Listener& l : listeners_) close(l.fd);
  if (reserve_fd_ >= 0) close(reserve_fd_);
}

absl::Status Acceptor::Start(std::vector<Listener> listeners) {
  listeners_ = std::move(listeners);
  for (const Listener& l : listeners_) watchers_.push_back(std::make_unique<ListenerWatcher>(this, &l));
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (absl::Status status = loop_.Init(); !status.ok()) return status;
  if (absl::Status status = SetListening(true); !status.ok()) return status;
  thread_ = std::thread([this] {
    common::NameThisThread("acceptor");
    loop_.Run([this](int64_t now_ns, int) { return AfterTurn(now_ns); });
  });
  return absl::OkStatus();
}

void Acceptor::Stop() {
  if (!thread_.joinable()) return;
  loop_.Post([this] { loop_.Quit(); });
  thread_.join();
  for (const Listener& l : listeners_) close(l.fd);
  listeners_.clear();
}

absl::Status Acceptor::SetListening(bool on) {
  for (size_t i = 0; i < listeners_.size(); ++i) {
    if (!on) {
      loop_.poller().Remove(listeners_[i].fd);
    } else if (absl::Status status =
                   loop_.poller().Set(listeners_[i].fd, EPOLLIN, watchers_[i].get(), false);
               !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

int64_t Acceptor::AfterTurn(int64_t now_ns) {
  if (paused_until_ns_ == 0) return common::EventLoop::kNoDeadline;
  if (now_ns < paused_until_ns_) return paused_until_ns_;
  paused_until_ns_ = 0;
  if (absl::Status status = SetListening(true); !status.ok()) {
    LOG(ERROR) << "cannot resume accepting: " << status.message();
  }
  return common::EventLoop::kNoDeadline;
}

void Acceptor::AcceptWaiting() {
  absl::Notification done;
  if (!thread_.joinable() || !loop_.Post([this, &done] {
        for (const Listener& l : listeners_) AcceptFrom(l, std::numeric_limits<int>::max());
        done.Notify();
      })) {
    return;
  }
  done.WaitForNotification();
}

void Acceptor::AcceptFrom(const Listener& listener, int max_accepts) {
  if (paused_until_ns_ != 0) return;  // events of this turn, from before the pause
  for (int accepted = 0; accepted < max_accepts; ++accepted) {
    const int fd = accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
        return;
      }
      if (errno == EMFILE || errno == ENFILE) {
        stats_->acceptor().accept_pauses.Add(1);
        if (int suppressed; log_limiter_.Allow(common::MonotonicNanos(), &suppressed)) {
          LOG(WARNING) << "out of file descriptors; pausing accepts for "
                       << kFdLimitPauseNs / 1'000'000 << " ms" << common::LogLimiter::Note(suppressed);
        }
        if (reserve_fd_ >= 0) {  // free one descriptor to accept and drop the waiting client
          close(reserve_fd_);
          const int shed = accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (shed >= 0) close(shed);
          reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        (void)SetListening(false);
        paused_until_ns_ = common::MonotonicNanos() + kFdLimitPauseNs;
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
    const int64_t open = stats_->open_connections.fetch_add(1, std::memory_order_relaxed) + 1;
    if (open > stats_->acceptor().peak_connections.value()) {
      stats_->acceptor().peak_connections.Set(open);
    }
    on_connection_(fd, listener.handler);
  }
}

void Acceptor::Refuse(int fd) {
  stats_->acceptor().rejected_limit.Add(1);
  if (int suppressed; log_limiter_.Allow(common::MonotonicNanos(), &suppressed)) {
    LOG(WARNING) << "refusing " << PeerName(fd) << ": connection limit "
                 << options_.max_connections << " reached" << common::LogLimiter::Note(suppressed);
  }
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
