#include "tests/systemd_test_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace tests {

NotifyListener::NotifyListener() {
  static std::atomic<int> counter{0};
  name_ = absl::StrCat("tcp_server_test_notify_", getpid(), "_", counter++);
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // Abstract: a leading NUL, no file to clean up, no path length to worry about.
  std::memcpy(address.sun_path + 1, name_.data(), name_.size());
  bind(fd_, reinterpret_cast<sockaddr*>(&address),
       offsetof(sockaddr_un, sun_path) + 1 + name_.size());
  pipe2(stop_pipe_, O_CLOEXEC);
  thread_ = std::thread([this] { Receive(); });
}

NotifyListener::~NotifyListener() {
  (void)write(stop_pipe_[1], "x", 1);
  thread_.join();
  for (int fd : {fd_, stop_pipe_[0], stop_pipe_[1]}) close(fd);
}

void NotifyListener::Receive() {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
  while (poll(fds, 2, -1) >= 0 && !(fds[1].revents & POLLIN)) {
    if (!(fds[0].revents & POLLIN)) continue;
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    messages_.push_back({absl::Now(), std::string(buffer, n)});
    cv_.notify_all();
  }
}

bool NotifyListener::WaitFor(const std::string& text, absl::Duration timeout, absl::Time after,
                             Message* found) {
  std::unique_lock<std::mutex> lock(mu_);
  auto match = [&] {
    for (const Message& m : messages_) {
      if (m.at > after && absl::StrContains(m.text, text)) {
        if (found != nullptr) *found = m;
        return true;
      }
    }
    return false;
  };
  return cv_.wait_for(lock, std::chrono::nanoseconds(absl::ToInt64Nanoseconds(timeout)), match);
}

std::vector<NotifyListener::Message> NotifyListener::messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_;
}

std::vector<absl::Time> NotifyListener::Times(const std::string& text) const {
  std::vector<absl::Time> times;
  for (const Message& m : messages()) {
    if (m.text == text) times.push_back(m.at);
  }
  return times;
}

}  // namespace tests
