// FrameDecoder: turns a byte stream, received in chunks of any size, into frames.
//
// Feed it each chunk as it arrives and take frames with Next() until it reports that it needs
// more bytes. It copies as little as possible: while it holds no partial frame, a fed chunk is
// only referenced, and frames are returned as views into it. Call Retain() before the chunk's
// memory is reused; only then are the leftover bytes (an incomplete frame, or frames not yet
// taken) copied into the decoder's own buffer.
//
// An incomplete frame is assembled in place: once its header is in, the decoder reserves room
// for the whole frame (at most max_frame_bytes + 4), so later chunks are appended without ever
// moving what came before. Growing a buffer geometrically instead would copy the frame received
// so far, megabytes within one call. The reservation is address space: resident memory grows
// only with the bytes that arrive (tests/limits_test checks the server's RSS). Instead of
// Feed(), a caller may read straight into the frame with ReadSpace() and CommitRead(), which
// saves copying a large frame through a scratch buffer.
//
//   FrameDecoder decoder({.max_frame_bytes = 1 << 20});
//   decoder.Feed(absl::string_view(scratch, n));
//   while (true) {
//     absl::StatusOr<std::optional<Frame>> frame = decoder.Next();
//     if (!frame.ok()) { /* bad length: close the stream */ }
//     if (!frame->has_value()) break;  // needs more bytes
//     Handle((*frame)->payload);
//   }
//   decoder.Retain();  // scratch may now be reused
//
// A header whose length exceeds the limit is checked as soon as its 4 bytes are in, before
// anything is sized for the payload; it makes Next() return an error, and the decoder stays
// failed (a length-prefixed stream cannot be resynchronised). So does a frame whose memory
// cannot be had (ResourceExhausted): an allocation a client chose never ends the process.
//
// Not thread-safe: one decoder per connection, used by one thread.
#ifndef PROTOCOL_FRAME_DECODER_H_
#define PROTOCOL_FRAME_DECODER_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "protocol/buffer.h"
#include "protocol/frame.h"

namespace protocol {

class FrameDecoder {
 public:
  struct Options {
    uint32_t max_frame_bytes = kDefaultMaxFrameBytes;  // at most kMaxFrameLimit
    // Whether frames may carry the error flag (true when decoding a server's replies).
    bool allow_error_frames = false;
  };

  explicit FrameDecoder(Options options);

  // Adds a chunk of the stream. While nothing is buffered the chunk is referenced, not copied:
  // it must stay valid until Retain() or the next Feed().
  void Feed(absl::string_view chunk);

  // Returns the next complete frame, std::nullopt when more bytes are needed, or an
  // InvalidArgument error for a header above the limit. A returned payload stays valid until
  // the next call to Feed() or Retain().
  absl::StatusOr<std::optional<Frame>> Next();

  // Copies bytes still referenced from the last fed chunk into the decoder's own buffer.
  void Retain();

  // Drops every buffered byte and frees the memory that held them (a stream that is closed).
  void Clear();

  // While an incomplete frame with a complete header is buffered (and nothing fed is pending):
  // the room for its missing bytes, *n of them. Write up to *n bytes there, then call
  // CommitRead with the count. Otherwise returns nullptr with *n = 0.
  char* ReadSpace(size_t* n);
  void CommitRead(size_t n);

  // OK, or why the stream cannot go on (what Next() returns once the frames before are taken).
  const absl::Status& status() const { return failure_; }

  // Bytes received but not yet returned as frames.
  size_t buffered_bytes() const { return borrowed_.size() + owned_.size(); }

  // Memory the decoder holds for buffered bytes (for tests of memory bounds).
  size_t owned_capacity() const { return owned_.capacity(); }
  // The most memory the decoder's buffer can have resident (Buffer::resident_bound): with
  // the room reserved for a large frame, about what has arrived of it. For a memory budget.
  size_t resident_bound() const { return owned_.resident_bound(); }

 private:
  // Header + length of the frame `buffered` starts with, if its header is complete, its length
  // valid, and the frame incomplete; otherwise 0.
  size_t IncompleteFrameTotal(absl::string_view buffered) const;
  // Makes room for a frame of `total` bytes in owned_; if the memory cannot be had, fails the
  // stream (ResourceExhausted from Next()) and returns false.
  bool ReserveFrame(size_t total);

  Options options_;
  absl::Status failure_;        // sticky once a bad header is seen
  Buffer owned_;                // copied leftovers; they come first in the stream
  absl::string_view borrowed_;  // unconsumed part of the caller's last chunk, after owned_
};

}  // namespace protocol

#endif  // PROTOCOL_FRAME_DECODER_H_
