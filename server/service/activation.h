// Socket activation: the listening sockets systemd (or any launcher speaking its protocol)
// holds and passes to the server, taken by their names instead of binding ports.
//
// systemd passes descriptors 3, 4, ... with LISTEN_FDS (how many), LISTEN_PID (for whom) and
// LISTEN_FDNAMES (colon-separated names, from the socket unit's FileDescriptorName=). The server
// knows three names: `data` (required), `stats` and `admin`. Anything else is a configuration
// mistake and is refused with a message naming the socket: an unnamed socket ("unknown"), a
// name it does not know, a name given twice, a descriptor that is not a listening TCP socket.
//
//   absl::StatusOr<service::ActivatedSockets> sockets = service::TakeActivatedSockets();
//   if (!sockets.ok()) UsageError(sockets.status().message());      // exit 2
//   if (sockets->active()) server.AddListener({.fd = sockets->data, ...});
//
// The environment variables are unset once read, so processes the server starts do not take
// the sockets for theirs.
#ifndef SERVER_SERVICE_ACTIVATION_H_
#define SERVER_SERVICE_ACTIVATION_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace service {

struct ActivatedSockets {
  int data = -1;   // FileDescriptorName=data: the handler's port
  int stats = -1;  // FileDescriptorName=stats: the stats handler's port (optional)
  int admin = -1;  // FileDescriptorName=admin: the admin HTTP port (optional)
  // Whether the server was started with sockets (LISTEN_FDS set for this process).
  bool active() const { return data >= 0; }
};

// Reads LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES (none: an inactive result). Sets the data and
// stats sockets non-blocking, the admin socket blocking, all close-on-exec.
absl::StatusOr<ActivatedSockets> TakeActivatedSockets();

// The same check on descriptors and names given directly (for tests and for the above).
absl::StatusOr<ActivatedSockets> SortActivatedSockets(
    const std::vector<std::pair<int, std::string>>& named_fds);

}  // namespace service

#endif  // SERVER_SERVICE_ACTIVATION_H_
