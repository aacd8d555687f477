// OutputQueue: a connection's replies waiting for the socket, kept as a short list of Buffers.
//
// Why not one Buffer: growing a contiguous buffer copies everything already in it. A client
// that reads slowly can leave megabytes pending, and then one more reply would copy those
// megabytes (into freshly faulted memory) within a single event, stalling every other
// connection of the worker. Here a reply starts a new segment once the last one holds
// kSegmentBytes, so appending a reply copies at most that reply and less than kSegmentBytes.
// In the common case (replies smaller than a segment, flushed each batch) there is one segment,
// reused: no allocation per reply.
//
//   OutputQueue out;
//   Buffer& b = out.BufferForNextReply();   // write one whole reply into it
//   AppendFrame("hello", &b);
//   absl::string_view parts[16];
//   int n = out.Peek(parts, 16);             // e.g. for writev
//   out.Consume(bytes_written);
//
// Not thread-safe: a queue belongs to one connection, touched by one thread.
#ifndef PROTOCOL_OUTPUT_QUEUE_H_
#define PROTOCOL_OUTPUT_QUEUE_H_

#include <sys/uio.h>

#include <cstddef>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "protocol/buffer.h"

namespace protocol {

class OutputQueue {
 public:
  // A segment that holds this much takes no further replies.
  static constexpr size_t kSegmentBytes = 64 << 10;
  // An emptied segment at most this large is kept for reuse (see spare_).
  static constexpr size_t kSpareBytes = 16 << 10;

  // `segment_bytes` other than the default is for tests that want many segments.
  explicit OutputQueue(size_t segment_bytes = kSegmentBytes)
      : segment_bytes_(segment_bytes), segments_(1) {}

  // The buffer to append the next reply to. Write the whole reply into it (a frame's header is
  // patched in place, and an error may truncate it back) before calling this again.
  Buffer& BufferForNextReply();

  size_t size() const { return sealed_bytes_ + segments_.back().size(); }
  // The most memory the segments can have resident (Buffer::resident_bound; for a budget).
  size_t resident_bound() const {
    size_t total = spare_.resident_bound();
    for (const Buffer& segment : segments_) total += segment.resident_bound();
    return total;
  }
  bool empty() const { return size() == 0; }

  // Fills `parts` with up to `max_parts` views of the pending bytes, in order; returns how many.
  int Peek(absl::string_view* parts, int max_parts) const;
  // The same as iovecs for one sendmsg/writev: at most kMaxWriteParts of them, each up to a
  // 64 KiB segment or one large reply, so one call can take plenty.
  static constexpr int kMaxWriteParts = 16;
  int PeekIovecs(iovec* parts, int max_parts) const;

  // Drops `n` bytes from the front. Requires n <= size().
  void Consume(size_t n);

  // While the kernel sends the pending bytes from where they are (an io_uring send), they must
  // not move: a pinned queue starts a new segment for the next reply instead of growing or
  // sliding the back one. Unpin when the send has completed.
  void Pin() { pinned_ = true; }
  void Unpin() { pinned_ = false; }

  // Drops everything and keeps one segment, with its allocation only if at most
  // `keep_capacity` bytes (see Buffer::Clear).
  void Clear(size_t keep_capacity = 0);

  // The pending bytes as one string (tests).
  std::string ToString() const;

 private:
  // The pending segments, in order, as up to `max_parts` parts made by `make(segment)`.
  template <typename Part, typename Make>
  int PeekAs(Part* parts, int max_parts, Make make) const {
    int n = 0;
    for (const Buffer& segment : segments_) {
      if (n == max_parts) break;
      if (!segment.empty()) parts[n++] = make(segment);
    }
    return n;
  }

  size_t segment_bytes_;
  // Never empty; replies go to the back one. Two segments live inline: an idle connection
  // costs no allocation, nor does the second segment a pinned queue starts.
  absl::InlinedVector<Buffer, 2> segments_;
  size_t sealed_bytes_ = 0;      // bytes in all segments but the back one
  bool pinned_ = false;
  // A small segment emptied by Consume, kept for the next new segment: a queue pinned now and
  // then (an io_uring send in flight while replies come) allocates nothing in steady state.
  Buffer spare_;
};

}  // namespace protocol

#endif  // PROTOCOL_OUTPUT_QUEUE_H_
