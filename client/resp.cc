#include "client/resp.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace client {
namespace {

void AppendBulk(absl::string_view arg, protocol::Buffer* out) {
  out->Append(absl::StrCat("$", arg.size(), "\r\n"));
  out->Append(arg);
  out->Append("\r\n");
}

}  // namespace

void AppendRequest(Protocol protocol, absl::string_view payload, protocol::Buffer* out) {
  if (protocol == Protocol::kFramed) {
    protocol::AppendFrame(payload, out);
    return;
  }
  absl::string_view args[3];
  int count = 0;
  while (count < 2) {
    const size_t space = payload.find(' ');
    if (space == absl::string_view::npos) break;
    args[count++] = payload.substr(0, space);
    payload.remove_prefix(space + 1);
  }
  args[count++] = payload;
  out->Append(absl::StrCat("*", count, "\r\n"));
  for (int i = 0; i < count; ++i) AppendBulk(args[i], out);
}

absl::StatusOr<std::optional<protocol::Frame>> RespReplyDecoder::Next() {
  const absl::string_view rest = absl::string_view(buffer_).substr(pos_);
  const size_t end = rest.find("\r\n");
  if (end == absl::string_view::npos) {
    if (rest.size() > 64 * 1024) return absl::InvalidArgumentError("a RESP line over 64 KiB");
    return std::nullopt;
  }
  if (end == 0) return absl::InvalidArgumentError("an empty RESP line");
  const char type = rest[0];
  const absl::string_view line = rest.substr(1, end - 1);
  size_t taken = end + 2;
  protocol::Frame frame;
  switch (type) {
    case '+':  // SET's +OK: the kv handler's "+"
      reply_ = line == "OK" ? "+" : absl::StrCat("+", line);
      break;
    case ':':  // DEL's count of keys removed: kv answers "+" either way
      reply_ = "+";
      break;
    case '-':
      reply_ = std::string(line);
      frame.kind = protocol::FrameKind::kError;
      break;
    case '$': {
      int64_t length = 0;
      if (!absl::SimpleAtoi(line, &length) || length < -1 ||
          length > static_cast<int64_t>(max_reply_bytes_)) {
        return absl::InvalidArgumentError(absl::StrCat("a bad RESP bulk length '", line, "'"));
      }
      if (length == -1) {
        reply_ = "-NOT_FOUND";
        break;
      }
      if (rest.size() < taken + length + 2) return std::nullopt;
      if (rest.substr(taken + length, 2) != "\r\n") {
        return absl::InvalidArgumentError("a RESP bulk string not ended by CRLF");
      }
      reply_ = absl::StrCat("+", rest.substr(taken, length));
      taken += length + 2;
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("a RESP reply of a type this bench does not expect: '", line.substr(0, 40),
                       "' after byte ", static_cast<int>(static_cast<unsigned char>(type))));
  }
  pos_ += taken;
  frame.payload = reply_;
  return frame;
}

}  // namespace client
