#include "server/service/activation.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace service {
namespace {

absl::Status Refuse(int fd, absl::string_view name, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("socket activation: descriptor ", fd, " (named '",
                                                 name, "'): ", why));
}

}  // namespace

absl::StatusOr<ActivatedSockets> SortActivatedSockets(
    const std::vector<std::pair<int, std::string>>& named_fds) {
  ActivatedSockets sockets;
  for (const auto& [fd, name] : named_fds) {
    int* slot = name == "data" ? &sockets.data
                : name == "stats" ? &sockets.stats
                : name == "admin" ? &sockets.admin
                                  : nullptr;
    if (slot == nullptr) {
      return Refuse(fd, name,
                    "expected one named data, stats or admin (FileDescriptorName= in the socket "
                    "unit, LISTEN_FDNAMES)");
    }
    if (*slot >= 0) return Refuse(fd, name, absl::StrCat("a second socket of that name"));
    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, /*listening=*/1) <= 0) {
      return Refuse(fd, name, "not a listening stream socket");
    }
    *slot = fd;
  }
  if (!named_fds.empty() && sockets.data < 0) {
    return absl::InvalidArgumentError(
        "socket activation: no socket named data (FileDescriptorName=data) among those passed");
  }
  return sockets;
}

absl::StatusOr<ActivatedSockets> TakeActivatedSockets() {
  char** names = nullptr;
  const int n = sd_listen_fds_with_names(/*unset_environment=*/1, &names);
  if (n < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket activation: LISTEN_FDS/LISTEN_FDNAMES unreadable (error ", -n, ")"));
  }
  std::vector<std::pair<int, std::string>> named_fds;
  for (int i = 0; i < n; ++i) {
    named_fds.emplace_back(SD_LISTEN_FDS_START + i, names != nullptr ? names[i] : "unknown");
  }
  if (names != nullptr) {
    for (int i = 0; i < n; ++i) free(names[i]);
    free(names);
  }
  absl::StatusOr<ActivatedSockets> sockets = SortActivatedSockets(named_fds);
  if (!sockets.ok()) return sockets;
  // The acceptor's loop wants non-blocking sockets; the admin port's HTTP library accepts
  // blocking ones (it waits in select() first, server/admin/admin_server.cc).
  for (const auto& named : named_fds) {
    const int fd = named.first;
    const int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fd == sockets->admin ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  return sockets;
}

}  // namespace service
