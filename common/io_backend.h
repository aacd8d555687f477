// IoBackend: which kernel interface an EventLoop waits and does its sockets' I/O with
// (common/event_loop.h). A small header of its own so that options can name one without
// depending on the loop.
#ifndef COMMON_IO_BACKEND_H_
#define COMMON_IO_BACKEND_H_

#include "absl/strings/string_view.h"

namespace common {

enum class IoBackend { kEpoll, kIoUring };

inline absl::string_view IoBackendName(IoBackend backend) {
  return backend == IoBackend::kIoUring ? "io_uring" : "epoll";
}

// "epoll" or "io_uring"; false for anything else.
inline bool ParseIoBackend(absl::string_view name, IoBackend* backend) {
  if (name == "epoll") {
    *backend = IoBackend::kEpoll;
  } else if (name == "io_uring") {
    *backend = IoBackend::kIoUring;
  } else {
    return false;
  }
  return true;
}

}  // namespace common

#endif  // COMMON_IO_BACKEND_H_
