#include "protocol/frame_decoder.h"

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
  if (chunk.empty()) return;
  if (borrowed_.empty() && owned_.empty()) {
    borrowed_ = chunk;
    return;
  }
  Retain();
  owned_.Append(chunk);
}

void FrameDecoder::Retain() {
  if (!borrowed_.empty()) {
    owned_.Append(borrowed_);
    borrowed_ = absl::string_view();
  }
  if (owned_.empty()) owned_.Clear(kKeepCapacity);
}

absl::StatusOr<std::optional<Frame>> FrameDecoder::Next() {
  if (!failure_.ok()) return failure_;
  const bool from_owned = borrowed_.empty();
  const absl::string_view input = from_owned ? owned_.view() : borrowed_;
  if (input.size() < kHeaderBytes) return std::nullopt;

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
