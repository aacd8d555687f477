// DispatchFrames: the socket-free heart of a connection. Takes the complete frames a decoder
// holds and answers each in order, until one of the limits stops it:
//   - the handler is called at once; its reply (or error reply, docs/protocol.md) goes to the
//     output queue, or behind earlier requests still waiting (ReplyOrder);
//   - a handler may defer its answer (Reply::Defer) through `later`;
//   - a call the handler offloads (Reply::Offload) is handed to `later`, which runs it on the
//     handler threads; the connection's later requests wait until it has returned (kOffloaded).
//
//   DispatchResult r = DispatchFrames(decoder, handler, order, output, &later, limits);
//   switch (r.stopped) { case StopReason::kProtocolError: close; ... }
//
// The connection calls it for each read; tests and the connection fuzz target call it with no
// socket at all. Not thread-safe: the caller's thread owns all the objects passed.
#ifndef SERVER_DISPATCH_DISPATCH_H_
#define SERVER_DISPATCH_DISPATCH_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "handlers/answers.h"
#include "handlers/handler.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"
#include "server/dispatch/reply_order.h"

namespace server {

// How a connection answers the requests that are not answered inline.
class LaterAnswers : public handlers::internal::Answers {
 public:
  // Runs `call` for `request` on the handler threads, its answer to come later. False if the
  // server's queue of such calls is full (the request then gets a RESOURCE_EXHAUSTED error
  // reply).
  virtual bool Offload(absl::string_view request, handlers::OffloadedCall call) = 0;
  // Whether an offloaded call of this connection has not returned yet: no request of the
  // connection is handled meanwhile (one call of a handler instance at a time, in order).
  virtual bool Offloading() const = 0;
  // Answers the place a Defer() took with `status` now (its handler misused the reply).
  virtual void FailDeferred(uint64_t request, const absl::Status& status) = 0;
};

struct DispatchLimits {
  uint32_t max_frame_bytes = 0;                // longer replies become RESOURCE_EXHAUSTED errors
  size_t max_pending_output_bytes = SIZE_MAX;  // stop before adding to more output than this
  int max_frames = INT32_MAX;                  // stop after this many frames (fairness)
  size_t max_inflight = SIZE_MAX;              // stop while this many replies are not out yet
};

enum class StopReason {
  kNeedMoreBytes,   // no complete frame left
  kOutputFull,      // output above max_pending_output_bytes: stop reading until it drains
  kInflightFull,    // max_inflight requests unanswered: stop reading until one is answered
  kBatchLimit,      // max_frames answered; more bytes are buffered
  kOffloaded,       // a call is on the handler threads: stop reading until it has returned
  kCloseRequested,  // a handler asked to close the connection after its reply
  kProtocolError,   // a bad header; `error` says which. The stream cannot go on.
};

struct DispatchResult {
  int frames = 0;          // requests taken (each has or will have one reply)
  int replies = 0;         // replies of those already in the output queue
  int handler_errors = 0;  // of which answered with an error reply
  int overloaded = 0;      // of which refused: the handler threads' queue was full
  int later = 0;           // of which to be answered later: deferred, or on the handler threads
  int misused = 0;         // of which the handler misused its reply (answered INTERNAL)
  StopReason stopped = StopReason::kNeedMoreBytes;
  absl::Status error;      // set with kProtocolError
};

DispatchResult DispatchFrames(protocol::FrameDecoder& decoder, handlers::Handler& handler,
                              ReplyOrder& order, protocol::OutputQueue& output, LaterAnswers* later,
                              const DispatchLimits& limits);

// For handlers answered inline only (unit tests, the fuzz target): no reply is held in order.
inline DispatchResult DispatchFrames(protocol::FrameDecoder& decoder, handlers::Handler& handler,
                                     protocol::OutputQueue& output, const DispatchLimits& limits) {
  ReplyOrder order(&output);
  return DispatchFrames(decoder, handler, order, output, nullptr, limits);
}

// Appends the reply frame for a handler's result: `payload` if `status` is OK and it fits in
// max_frame_bytes, else an error frame. Returns false for an error frame.
bool AppendReplyFrame(const absl::Status& status, absl::string_view payload,
                      uint32_t max_frame_bytes, protocol::Buffer* out);

// Runs `handler` on `request`, turning an exception into an INTERNAL status.
absl::Status CallHandler(handlers::Handler& handler, absl::string_view request,
                         handlers::Reply& reply);
// The same for an offloaded call, on a handler thread.
absl::Status CallOffloaded(handlers::OffloadedCall& call, absl::string_view request,
                           handlers::Reply& reply);

// The error a misused reply is answered with; logged as a DFATAL (a debug build stops).
absl::Status MisuseError(absl::string_view what);

}  // namespace server

#endif  // SERVER_DISPATCH_DISPATCH_H_
