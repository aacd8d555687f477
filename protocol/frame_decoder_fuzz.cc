// Fuzz target for FrameDecoder. The input's first byte picks a chunk size, the rest is the byte
// stream. Decoding the stream in those chunks must give exactly what decoding it whole gives:
// the same frames, the same error, the same leftover. Any difference, crash or sanitizer
// report is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/frame_decoder.h"

namespace {

constexpr uint32_t kMaxFrameBytes = 1024;

struct Outcome {
  std::vector<std::string> frames;
  bool failed = false;
  size_t leftover = 0;
};

Outcome Decode(absl::string_view stream, size_t chunk_size) {
  protocol::FrameDecoder decoder({.max_frame_bytes = kMaxFrameBytes});
  Outcome outcome;
  std::string scratch;
  for (size_t pos = 0; pos < stream.size() && !outcome.failed; pos += chunk_size) {
    scratch = std::string(stream.substr(pos, chunk_size));
    decoder.Feed(scratch);
    while (true) {
      absl::StatusOr<std::optional<protocol::Frame>> frame = decoder.Next();
      if (!frame.ok()) {
        outcome.failed = true;
        break;
      }
      if (!frame->has_value()) break;
      if ((*frame)->payload.size() > kMaxFrameBytes) __builtin_trap();
      outcome.frames.emplace_back((*frame)->payload);
    }
    decoder.Retain();
    scratch.assign(scratch.size(), '\xAA');  // the decoder must not read reused memory
  }
  outcome.leftover = decoder.buffered_bytes();
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk_size = 1 + data[0] % 64;
  const absl::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = Decode(stream, stream.size() + 1);
  const Outcome chunked = Decode(stream, chunk_size);
  if (whole.frames != chunked.frames || whole.failed != chunked.failed) __builtin_trap();
  if (!whole.failed && whole.leftover != chunked.leftover) __builtin_trap();
  return 0;
}
