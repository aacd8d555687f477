#include "protocol/frame_decoder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace protocol {
namespace {
// An emptied buffer keeps an allocation this small for the next partial frame, so pipelined
// small frames that straddle reads do not allocate per read; larger ones are freed.
constexpr size_t kKeepCapacity = 256;
}  // namespace

FrameDecoder::FrameDecoder(Options options) : options_(options) {
  CHECK_LE(options_.max_frame_bytes, kMaxFrameLimit);
}

void FrameDecoder::Feed(absl::string_view chunk) {
  if (chunk.empty() || !failure_.ok()) return;  // nothing after a failure is read
  if (borrowed_.empty() && owned_.empty()) {
    borrowed_ = chunk;
    return;
  }
  Retain();
  // Complete the header of the frame being assembled, if that is what is buffered.
  if (owned_.size() < kHeaderBytes) {
    const size_t take = std::min(kHeaderBytes - owned_.size(), chunk.size());
    owned_.Append(chunk.substr(0, take));
    chunk.remove_prefix(take);
  }
  const size_t total = IncompleteFrameTotal(owned_.view());
  if (total == 0) {  // complete frames (or a bad header) buffered: keep the stream in order
    owned_.Append(chunk);
    return;
  }
  // Assemble the frame in place and leave the bytes after it in the caller's chunk, so the
  // frame's buffer never grows past its reserved size (which would copy the whole frame).
  if (!ReserveFrame(total)) return;
  const size_t take = std::min(total - owned_.size(), chunk.size());
  owned_.Append(chunk.substr(0, take));
  borrowed_ = chunk.substr(take);
}

void FrameDecoder::Retain() {
  if (!borrowed_.empty()) {
    if (owned_.empty()) {
      owned_.Clear(kKeepCapacity);  // a large frame's buffer is not kept for small leftovers
      if (const size_t total = IncompleteFrameTotal(borrowed_); total > 0 && !ReserveFrame(total)) {
        return;
      }
    }
    owned_.Append(borrowed_);
    borrowed_ = absl::string_view();
  }
  if (owned_.empty()) owned_.Clear(kKeepCapacity);
}

void FrameDecoder::Clear() {
  borrowed_ = absl::string_view();
  owned_.Clear();
}

char* FrameDecoder::ReadSpace(size_t* n) {
  *n = 0;
  if (!borrowed_.empty()) return nullptr;
  const size_t total = IncompleteFrameTotal(owned_.view());
  if (total == 0 || !ReserveFrame(total)) return nullptr;
  *n = total - owned_.size();
  return owned_.room();
}

void FrameDecoder::CommitRead(size_t n) { owned_.Commit(n); }

bool FrameDecoder::ReserveFrame(size_t total) {
  if (owned_.TryReserve(total)) return true;
  // The memory for a frame the client declared cannot be had: this stream ends here (the
  // frames before it were taken already); the process goes on.
  failure_ = absl::ResourceExhaustedError(
      absl::StrCat("cannot allocate ", total, " bytes for a frame"));
  borrowed_ = absl::string_view();
  return false;
}

size_t FrameDecoder::IncompleteFrameTotal(absl::string_view buffered) const {
  if (buffered.size() < kHeaderBytes) return 0;
  uint32_t length = ReadBigEndian32(buffered.data());
  if (options_.allow_error_frames) length &= ~kErrorFlag;
  if (length > options_.max_frame_bytes) return 0;  // Next() reports it
  const size_t total = kHeaderBytes + size_t{length};
  return total > buffered.size() ? total : 0;
}

absl::StatusOr<std::optional<Frame>> FrameDecoder::Next() {
  if (!failure_.ok()) return failure_;
  // Buffered bytes come first; the caller's chunk continues after them.
  const bool from_owned = !owned_.empty();
  const absl::string_view input = from_owned ? owned_.view() : borrowed_;
  if (input.size() < kHeaderBytes) return std::nullopt;
  DCHECK(!from_owned || borrowed_.empty() || IncompleteFrameTotal(input) == 0)
      << "an incomplete buffered frame must not be followed by borrowed bytes";

  uint32_t length = ReadBigEndian32(input.data());
  Frame frame;
  if (options_.allow_error_frames && (length & kErrorFlag) != 0) {
    frame.kind = FrameKind::kError;
    length &= ~kErrorFlag;
  }
  if (length > options_.max_frame_bytes) {
    failure_ = absl::InvalidArgumentError(absl::StrCat(
        "frame length ", length, " exceeds the limit of ", options_.max_frame_bytes, " bytes"));
    return failure_;
  }
  const size_t total = kHeaderBytes + size_t{length};
  if (input.size() < total) return std::nullopt;

  frame.payload = input.substr(kHeaderBytes, length);
  // Consuming only moves indices: the payload's bytes stay in place until Feed()/Retain().
  if (from_owned) {
    owned_.Consume(total);
  } else {
    borrowed_.remove_prefix(total);
  }
  return std::optional<Frame>(frame);
}

}  // namespace protocol
