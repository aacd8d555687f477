// Socket helpers for the server: listening, options, the process's descriptor limit.
// Plain functions over file descriptors; errors come back as absl::Status naming the address.
#ifndef SERVER_NET_SOCKET_H_
#define SERVER_NET_SOCKET_H_

#include <sys/types.h>

#include <cerrno>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "protocol/output_queue.h"

namespace server {

// A non-blocking, close-on-exec listening TCP socket on `address` (an IPv4 or IPv6 literal) and
// `port` (0 picks a free one), with SO_REUSEPORT if `reuse_port`.
absl::StatusOr<int> ListenTcp(absl::string_view address, int port, bool reuse_port = false);

// The local port a bound socket got.
absl::StatusOr<int> LocalPort(int fd);

// "127.0.0.1:5000" or "[::1]:5000" for the peer of a connected socket; "?" if unknown.
std::string PeerName(int fd);
// The same for the socket's own (local) address.
std::string LocalName(int fd);

// Turns off Nagle's algorithm: replies are written whole, so delaying them only adds latency.
void SetNoDelay(int fd);

// Raises the soft RLIMIT_NOFILE to the hard limit and returns the new soft limit.
int RaiseFileDescriptorLimit();

// Writes what the socket takes of `output` (without consuming it): one system call whatever
// the number of segments. send(2)'s result and errno.
ssize_t SendSome(int fd, const protocol::OutputQueue& output);

// Whether a failed non-blocking read or write only has to wait (errno from it).
inline bool WouldBlock(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

}  // namespace server

#endif  // SERVER_NET_SOCKET_H_
