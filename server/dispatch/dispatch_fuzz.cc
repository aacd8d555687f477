// Fuzz target for a whole connection's path without sockets: bytes arrive in chunks of random
// sizes, are decoded, dispatched to the echo handler under random batch and output limits,
// and the replies are encoded; a simulated client drains the output whenever the server would
// stop reading. Every reply must be the request it answers, in order, and the stream must end
// exactly where a one-shot decode of it ends (all frames answered, or the same bad header).
//
// Input layout: [chunk seed][batch limit][output limit][segment size][stream...]
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "handlers/echo/echo.h"
#include "protocol/frame_decoder.h"
#include "server/dispatch/dispatch.h"

namespace {

constexpr uint32_t kMaxFrameBytes = 512;

// Every frame of `bytes`, decoded in one go (the reference), and whether it ended in an error.
std::vector<std::string> DecodeAll(absl::string_view bytes, bool allow_errors, bool* failed) {
  protocol::FrameDecoder decoder({.max_frame_bytes = kMaxFrameBytes, .allow_error_frames = allow_errors});
  decoder.Feed(bytes);
  std::vector<std::string> frames;
  *failed = false;
  while (true) {
    absl::StatusOr<std::optional<protocol::Frame>> frame = decoder.Next();
    if (!frame.ok()) {
      *failed = true;
      break;
    }
    if (!frame->has_value()) break;
    if ((*frame)->kind != protocol::FrameKind::kNormal) __builtin_trap();  // echo never fails
    frames.emplace_back((*frame)->payload);
  }
  return frames;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t chunk_size = 1 + data[0] % 97;
  const int max_frames = 1 + data[1] % 8;
  const size_t max_pending = static_cast<size_t>(data[2]) * 8;
  const size_t segment_bytes = 1 + data[3] % 64;  // many segments, so their seams are fuzzed
  const absl::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

  protocol::FrameDecoder decoder({.max_frame_bytes = kMaxFrameBytes});
  handlers::EchoHandler echo;
  protocol::OutputQueue output(segment_bytes);
  std::string replies;  // everything the simulated client has read
  const server::DispatchLimits limits{.max_frame_bytes = kMaxFrameBytes,
                                      .max_pending_output_bytes = max_pending,
                                      .max_frames = max_frames};
  bool protocol_error = false;
  std::string chunk;
  for (size_t pos = 0; pos < stream.size() && !protocol_error; pos += chunk_size) {
    chunk = std::string(stream.substr(pos, chunk_size));
    decoder.Feed(chunk);
    while (true) {
      const server::DispatchResult r = server::DispatchFrames(decoder, echo, output, limits);
      if (r.stopped == server::StopReason::kProtocolError) {
        protocol_error = true;
        break;
      }
      if (r.stopped == server::StopReason::kNeedMoreBytes) break;
      // Output full or batch limit: the client reads what is pending, in pieces the size of a
      // chunk (as a socket might take them), and the server goes on.
      while (!output.empty()) {
        absl::string_view parts[4];
        output.Peek(parts, 4);
        const size_t n = std::min(parts[0].size(), chunk_size);
        replies.append(parts[0].data(), n);
        output.Consume(n);
      }
      output.Clear(256);
    }
    decoder.Retain();
    chunk.assign(chunk.size(), '\x5a');  // the decoder must not read reused memory
  }
  replies += output.ToString();

  bool reference_failed = false, replies_failed = false;
  const std::vector<std::string> requests = DecodeAll(stream, false, &reference_failed);
  const std::vector<std::string> answered = DecodeAll(replies, true, &replies_failed);
  if (replies_failed || answered != requests || protocol_error != reference_failed) {
    __builtin_trap();
  }
  return 0;
}
