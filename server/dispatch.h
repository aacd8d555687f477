// DispatchFrames: the socket-free heart of a connection. Takes the complete frames a decoder
// holds, passes each to the connection's handler, and appends each reply (or error reply, see
// docs/protocol.md) to the output queue, in order, until one of the limits stops it.
//
//   DispatchResult r = DispatchFrames(decoder, handler, output, {.max_frame_bytes = 1 << 20});
//   switch (r.stopped) { case StopReason::kProtocolError: close; ... }
//
// The worker calls it for each read; tests and the connection fuzz target call it with no
// socket at all. Not thread-safe: the caller's thread owns all three objects.
#ifndef SERVER_DISPATCH_H_
#define SERVER_DISPATCH_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "handlers/handler.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"

namespace server {

struct DispatchLimits {
  uint32_t max_frame_bytes = 0;            // longer replies become RESOURCE_EXHAUSTED errors
  size_t max_pending_output_bytes = SIZE_MAX;  // stop before adding to more output than this
  int max_frames = INT32_MAX;              // stop after this many frames (fairness)
};

enum class StopReason {
  kNeedMoreBytes,   // no complete frame left
  kOutputFull,      // output above max_pending_output_bytes: stop reading until it drains
  kBatchLimit,      // max_frames answered; more bytes are buffered
  kProtocolError,   // a bad header; `error` says which. The stream cannot go on.
};

struct DispatchResult {
  int frames = 0;          // requests answered (one reply each)
  int handler_errors = 0;  // of which answered with an error reply
  StopReason stopped = StopReason::kNeedMoreBytes;
  absl::Status error;      // set with kProtocolError
};

DispatchResult DispatchFrames(protocol::FrameDecoder& decoder, handlers::Handler& handler,
                              protocol::OutputQueue& output, const DispatchLimits& limits);

}  // namespace server

#endif  // SERVER_DISPATCH_H_
