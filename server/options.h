// ServerOptions: every setting of the server, validated, independent of how it was given
// (flags in main.cc, literals in tests).
#ifndef SERVER_OPTIONS_H_
#define SERVER_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "protocol/frame.h"

namespace server {

struct ServerOptions {
  int workers = 1;
  int max_connections = 10000;
  uint32_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;
  absl::Duration idle_timeout = absl::Minutes(5);
  absl::Duration frame_timeout = absl::Seconds(10);
  size_t max_pending_output_bytes = 4u << 20;
  absl::Duration shutdown_grace = absl::Seconds(5);
  // Fairness: frames answered from one connection before the worker serves its other ready
  // connections (memcached's -R).
  int max_frames_per_batch = 64;
};

}  // namespace server

#endif  // SERVER_OPTIONS_H_
