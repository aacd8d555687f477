#include "server/net/socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/host_port.h"

namespace server {
namespace {

absl::Status ErrnoError(absl::string_view what, absl::string_view address, int port) {
  return absl::UnavailableError(
      absl::StrCat(what, " ", address, " port ", port, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<int> ListenTcp(absl::string_view address, int port, bool reuse_port) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const std::string host(address);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "' is not an IPv4 or IPv6 address literal"));
  }
  const int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("cannot create a socket for", address, port);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (storage.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    const absl::Status status = ErrnoError("cannot bind", address, port);
    close(fd);
    return status;
  }
  if (listen(fd, SOMAXCONN) != 0) {
    const absl::Status status = ErrnoError("cannot listen on", address, port);
    close(fd);
    return status;
  }
  return fd;
}

absl::StatusOr<int> LocalPort(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return absl::InternalError(absl::StrCat("getsockname: ", std::strerror(errno)));
  }
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

namespace {

// "host:port" of a socket's peer (`getpeername`) or its own address (`getsockname`).
std::string SocketAddress(int fd, int (*get_name)(int, sockaddr*, socklen_t*)) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  char text[INET6_ADDRSTRLEN] = "?";
  if (get_name(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return "?";
  if (storage.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    return common::HostPort(text, ntohs(v6->sin6_port));
  }
  const auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
  return common::HostPort(text, ntohs(v4->sin_port));
}

}  // namespace

std::string PeerName(int fd) { return SocketAddress(fd, getpeername); }
std::string LocalName(int fd) { return SocketAddress(fd, getsockname); }

void SetNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int RaiseFileDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<int>(limit.rlim_cur);
}

ssize_t SendSome(int fd, const protocol::OutputQueue& output) {
  constexpr int kMaxParts = protocol::OutputQueue::kMaxWriteParts;
  iovec iov[kMaxParts];
  const int count = output.PeekIovecs(iov, kMaxParts);
  if (count == 1) return send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
  msghdr message{};
  message.msg_iov = iov;
  message.msg_iovlen = count;
  return sendmsg(fd, &message, MSG_NOSIGNAL);
}

}  // namespace server
