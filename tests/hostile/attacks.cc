#include "tests/hostile/attacks.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "protocol/buffer.h"
#include "protocol/frame.h"

namespace hostile {
namespace {

int Connect(const Target& target, bool nonblocking) {
  const int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(target.port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

void Reset(int fd) {
  const linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

bool Expired(const Target& target, Clock::time_point end) {
  return *target.stop_early || Clock::now() >= end;
}

int Connections(const Target& target, int scenario_default) {
  return target.connections > 0 ? target.connections : scenario_default;
}

// 1,000 connections, each sending its frame one byte every 2 s.
void Slowloris(const Target& target, Clock::time_point end) {
  protocol::Buffer frame;
  protocol::AppendFrame(std::string(100, 's'), &frame);
  std::vector<int> fds;
  for (int i = 0; i < Connections(target, 1000); ++i) fds.push_back(Connect(target, false));
  for (size_t byte = 0; !Expired(target, end); ++byte) {
    for (int& fd : fds) {
      if (fd < 0) continue;
      if (send(fd, frame.data() + byte % frame.size(), 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
          errno != EAGAIN) {
        close(fd);  // the server closed it (frame timeout): that is the defence working
        fd = -1;
      }
    }
    for (int i = 0; i < 20 && !Expired(target, end); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int fd : fds) if (fd >= 0) close(fd);
}

// 100 clients pipelining 1 MiB frames and never reading a reply.
void NonReader(const Target& target, Clock::time_point end) {
  protocol::Buffer frame;
  protocol::AppendFrame(std::string(1 << 20, 'n'), &frame);
  std::vector<int> fds;
  std::vector<size_t> offsets(Connections(target, 100), 0);
  for (size_t i = 0; i < offsets.size(); ++i) fds.push_back(Connect(target, true));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  while (!Expired(target, end)) {
    for (size_t i = 0; i < fds.size(); ++i) {
      const ssize_t n = send(fds[i], frame.data() + offsets[i], frame.size() - offsets[i],
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) offsets[i] = (offsets[i] + n) % frame.size();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int fd : fds) Reset(fd);
}

// 100 clients sending random bytes, reconnecting whenever the server hangs up.
void Garbage(const Target& target, Clock::time_point end) {
  std::mt19937 rng(1);
  std::vector<int> fds(Connections(target, 100), -1);
  // Drawn from once, so that making garbage does not cost the attacker a core of its own.
  std::string pool(1 << 20, '\0');
  for (char& ch : pool) ch = static_cast<char>(rng());
  while (!Expired(target, end)) {
    for (int& fd : fds) {
      if (fd < 0) fd = Connect(target, false);
      if (fd < 0) continue;
      const size_t size = 1 + rng() % 4096;
      if (send(fd, pool.data() + rng() % (pool.size() - size), size, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
          errno != EAGAIN) {
        close(fd);
        fd = -1;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int fd : fds) if (fd >= 0) close(fd);
}

// Connect and reset at once, --churn_cycles times (bounded by --attack_s x 5 as well).
void Churn(const Target& target, Clock::time_point end) {
  const auto hard_end = end + (end - Clock::now()) * 4;
  for (int i = 0; i < target.churn_cycles && !Expired(target, hard_end); ++i) {
    const int fd = Connect(target, false);
    if (fd >= 0) Reset(fd);
  }
}

// 1,000 connections, each declaring a 16,000,000-byte frame, sending its first 15 MiB as fast
// as the server takes them, and then holding: a server that buffers partial frames without a
// server-wide bound holds 15 GB. A connection the server closes stays closed.
void Partial(const Target& target, Clock::time_point end) {
  constexpr uint32_t kDeclared = 16'000'000;
  constexpr size_t kSent = size_t{15} << 20;
  std::string chunk(256 << 10, 'p');
  const uint32_t header = htonl(kDeclared);
  std::vector<int> fds;
  std::vector<size_t> sent(Connections(target, 1000), 0);
  for (size_t i = 0; i < sent.size(); ++i) {
    const int fd = Connect(target, true);
    if (fd >= 0 && send(fd, &header, sizeof(header), MSG_NOSIGNAL) != sizeof(header)) {
      close(fd);
      fds.push_back(-1);
      continue;
    }
    fds.push_back(fd);
  }
  while (!Expired(target, end)) {
    bool progress = false;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i] < 0 || sent[i] >= kSent) continue;
      const ssize_t n = send(fds[i], chunk.data(), std::min(chunk.size(), kSent - sent[i]),
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent[i] += n;
        progress = true;
      } else if (n < 0 && errno != EAGAIN) {
        close(fds[i]);  // closed by the server: the budget at work
        fds[i] = -1;
      }
    }
    if (!progress) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int fd : fds) if (fd >= 0) Reset(fd);
}

// One client that connects and says nothing.
void Silent(const Target& target, Clock::time_point end) {
  const int fd = Connect(target, false);
  while (!Expired(target, end)) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (fd >= 0) close(fd);
}

}  // namespace

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> scenarios = {
      {"slowloris", Slowloris}, {"nonreader", NonReader}, {"garbage", Garbage},
      {"churn", Churn},         {"silent", Silent},        {"partial", Partial}};
  return scenarios;
}

}  // namespace hostile
