#include "protocol/frame.h"

#include "glog/logging.h"

namespace protocol {

void AppendFrame(absl::string_view payload, Buffer* out, FrameKind kind) {
  const size_t start = BeginFrame(out);
  out->Append(payload);
  FinishFrame(start, kind, out);
}

size_t BeginFrame(Buffer* out) {
  const size_t offset = out->size();
  out->AppendUninitialized(kHeaderBytes);
  return offset;
}

void FinishFrame(size_t header_offset, FrameKind kind, Buffer* out) {
  const size_t length = out->size() - header_offset - kHeaderBytes;
  CHECK_LE(length, kMaxFrameLimit) << "frame payload too large for the header";
  uint32_t header = static_cast<uint32_t>(length);
  if (kind == FrameKind::kError) header |= kErrorFlag;
  char bytes[kHeaderBytes];
  WriteBigEndian32(header, bytes);
  out->Overwrite(header_offset, absl::string_view(bytes, kHeaderBytes));
}

}  // namespace protocol
