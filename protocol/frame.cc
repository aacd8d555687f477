#include "protocol/frame.h"

#include "absl/strings/str_cat.h"
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

void AppendErrorFrame(const absl::Status& status, Buffer* out) {
  const size_t start = BeginFrame(out);
  out->Append(absl::StatusCodeToString(status.code()));
  out->Append(": ");
  out->Append(status.message());
  FinishFrame(start, FrameKind::kError, out);
}

std::string PayloadWithHeaderRoom(absl::string_view payload) {
  std::string out;
  out.reserve(payload.size() + kHeaderBytes);
  out.append(payload.data(), payload.size());
  return out;
}

absl::Status StatusFromErrorPayload(absl::string_view payload) {
  const size_t colon = payload.find(": ");
  const absl::string_view code_name = payload.substr(0, colon);
  const absl::string_view message =
      colon == absl::string_view::npos ? payload : payload.substr(colon + 2);
  for (int code = 1; code <= 16; ++code) {
    if (absl::StatusCodeToString(static_cast<absl::StatusCode>(code)) == code_name) {
      return absl::Status(static_cast<absl::StatusCode>(code), message);
    }
  }
  return absl::UnknownError(payload);
}

}  // namespace protocol
