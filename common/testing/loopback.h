// A listening socket on 127.0.0.1 at a port the kernel picks, for tests that play a server or
// hold a port.
//
//   int port;
//   const int listener = common::testing::ListenOnLoopback(&port);  // -1 on failure
//   ...
//   close(listener);
#ifndef COMMON_TESTING_LOOPBACK_H_
#define COMMON_TESTING_LOOPBACK_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace common::testing {

// The listening socket (close-on-exec) with `backlog`, its port in `*port`; -1 on failure.
inline int ListenOnLoopback(int* port, int backlog = 1024) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 || listen(fd, backlog) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(address.sin_port);
  return fd;
}

// A port nothing listens on now (bound once, then released): for a tool that cannot be given
// port 0, or for a connection that must be refused.
inline int FreePort() {
  int port = 0;
  const int fd = ListenOnLoopback(&port);
  if (fd >= 0) close(fd);
  return port;
}

}  // namespace common::testing

#endif  // COMMON_TESTING_LOOPBACK_H_
