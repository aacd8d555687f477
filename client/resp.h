// RESP, Redis's protocol, for the bench (client --bench --protocol=resp): the same workloads
// drive Redis and this server's kv handler, so one generator measures both.
//
// A request is a kv command's text ("SET key value", "GET key"), sent as a RESP array of bulk
// strings: the verb, the key, and the rest as the value. A reply is handed back as the frame the
// kv handler would have sent, so one check serves both servers: +OK and integers (DEL's count)
// become "+", a bulk string "+<bytes>", a null bulk string "-NOT_FOUND", an error an error frame.
//
//   protocol::Buffer out;
//   AppendRequest(Protocol::kResp, "SET k v", &out);  // *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n
//   RespReplyDecoder replies(1 << 20);
//   replies.Feed("$1\r\nv\r\n");
//   absl::StatusOr<std::optional<protocol::Frame>> reply = replies.Next();  // payload "+v"
//   replies.Retain();
//
// Not thread-safe.
#ifndef CLIENT_RESP_H_
#define CLIENT_RESP_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "protocol/buffer.h"
#include "protocol/frame.h"

namespace client {

enum class Protocol {
  kFramed,  // this server's: a 4-byte length, then the payload
  kResp,    // Redis's
};

// Appends `payload` as one request in `protocol`. RESP: split at its first two spaces into at
// most three arguments (verb, key, value: the value keeps any further spaces).
void AppendRequest(Protocol protocol, absl::string_view payload, protocol::Buffer* out);

class RespReplyDecoder {
 public:
  // A bulk reply over `max_reply_bytes` is an error.
  explicit RespReplyDecoder(size_t max_reply_bytes) : max_reply_bytes_(max_reply_bytes) {}

  // Copies `chunk` in.
  void Feed(absl::string_view chunk) { buffer_.append(chunk.data(), chunk.size()); }
  // The next whole reply, as the kv handler's frame (see the file comment); valid until the next
  // call. nullopt: it needs more bytes. An error: the bytes are not a RESP reply this bench
  // expects (an unknown type byte, an array, a bad length).
  absl::StatusOr<std::optional<protocol::Frame>> Next();
  // Forgets the replies taken so far.
  void Retain() {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  size_t buffered_bytes() const { return buffer_.size() - pos_; }

 private:
  size_t max_reply_bytes_;
  std::string buffer_;
  size_t pos_ = 0;       // the first byte not yet taken
  std::string reply_;    // the payload of the last reply
};

}  // namespace client

#endif  // CLIENT_RESP_H_
