// The wire format: every message is a frame, a 4-byte big-endian header then the payload.
//
//   header bit 31     : 0 for a normal frame, 1 for an error reply (server -> client only)
//   header bits 0..30 : payload length N, 0 <= N <= max_frame_bytes (< 2^31)
//
// A normal frame is exactly Python's `struct.pack('>I', len(msg)) + msg`. See docs/protocol.md.
//
//   Buffer out;
//   AppendFrame("hello", &out);                 // plain frame
//   size_t start = BeginFrame(&out);            // or write the payload in place:
//   out.Append("world");
//   FinishFrame(start, FrameKind::kNormal, &out);
#ifndef PROTOCOL_FRAME_H_
#define PROTOCOL_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "protocol/buffer.h"

namespace protocol {

inline constexpr size_t kHeaderBytes = 4;
inline constexpr uint32_t kErrorFlag = 0x80000000u;
// The largest length a header can carry; --max_frame_bytes must not exceed it.
inline constexpr uint32_t kMaxFrameLimit = 0x7fffffffu;
inline constexpr uint32_t kDefaultMaxFrameBytes = 16u << 20;  // 16 MiB

enum class FrameKind { kNormal, kError };

// One decoded frame. `payload` points into the decoder's or the caller's bytes.
struct Frame {
  absl::string_view payload;
  FrameKind kind = FrameKind::kNormal;
};

inline uint32_t ReadBigEndian32(const char* p) {
  unsigned char b[4];
  std::memcpy(b, p, 4);  // no unaligned load
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

inline void WriteBigEndian32(uint32_t v, char* p) {
  const unsigned char b[4] = {static_cast<unsigned char>(v >> 24),
                              static_cast<unsigned char>(v >> 16),
                              static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  std::memcpy(p, b, 4);
}

// Appends a complete frame carrying `payload`. Requires payload.size() <= kMaxFrameLimit.
void AppendFrame(absl::string_view payload, Buffer* out, FrameKind kind = FrameKind::kNormal);

// Reserves a header at the back of `out` and returns its offset; append the payload, then call
// FinishFrame with that offset to write the length.
size_t BeginFrame(Buffer* out);
void FinishFrame(size_t header_offset, FrameKind kind, Buffer* out);

// `payload` copied into a string with room for a frame header in front, so that whoever frames
// it later (a late answer's, server/dispatch/answer_link.cc) inserts the header in place.
std::string PayloadWithHeaderRoom(absl::string_view payload);

// Error replies carry "<CODE>: <message>", e.g. "INTERNAL: handler failed" (docs/protocol.md).
void AppendErrorFrame(const absl::Status& status, Buffer* out);
// Turns an error frame's payload back into a status (UNKNOWN if the code is not recognised).
absl::Status StatusFromErrorPayload(absl::string_view payload);

}  // namespace protocol

#endif  // PROTOCOL_FRAME_H_
