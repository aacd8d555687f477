// ServerOptions: every setting of the server, independent of how it was given (flags in
// flags.cc, literals in tests). The defaults here are the flags' defaults too.
#ifndef SERVER_CONFIG_OPTIONS_H_
#define SERVER_CONFIG_OPTIONS_H_

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "common/io_backend.h"
#include "protocol/frame.h"

namespace server {

struct ServerOptions {
  int workers = 0;  // 0: one per CPU (see WorkerCount)
  // The workers' I/O backend; io_uring falls back to epoll where it cannot be set up
  // (docs/DESIGN.md, "The io_uring backend"). io_uring by default: faster and cheaper per
  // request for small messages, level at 64 KiB (docs/BENCHMARKS.md, "The I/O backends").
  common::IoBackend io = common::IoBackend::kIoUring;
  int max_connections = 10000;
  uint32_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;
  absl::Duration idle_timeout = absl::Minutes(5);
  absl::Duration frame_timeout = absl::Seconds(10);
  size_t max_pending_output_bytes = 4u << 20;
  // Server-wide: bytes held for all connections (partial input, unsent and held replies,
  // queued requests). Past it, reading pauses and the largest holders are closed
  // (server/memory/memory_budget.h, docs/RELIABILITY.md).
  int64_t max_buffer_memory = int64_t{1} << 30;
  absl::Duration shutdown_grace = absl::Seconds(5);
  // Listen with SO_REUSEPORT (a new process may bind the same port while this one drains).
  bool reuse_port = false;
  // Fairness: frames answered from one connection before the worker serves its other ready
  // connections (memcached's -R).
  int max_frames_per_batch = 64;

  // Handlers that block run on this many handler threads (docs/DESIGN.md).
  int handler_threads = 16;
  // A connection with this many requests unanswered is not read until one is answered.
  int max_inflight_per_connection = 64;
  // Server-wide: requests waiting for or running on a handler thread. Beyond it a request gets
  // a RESOURCE_EXHAUSTED error reply at once (docs/protocol.md).
  int max_queued_requests = 4096;
  // A request not answered within this gets a DEADLINE_EXCEEDED error reply; its late answer
  // is discarded. absl::InfiniteDuration() for none.
  absl::Duration handler_timeout = absl::Seconds(30);
};

// The number of workers `options` asks for: its `workers`, or one per CPU when that is 0.
int WorkerCount(const ServerOptions& options);

}  // namespace server

#endif  // SERVER_CONFIG_OPTIONS_H_
