// Small helpers shared by the end-to-end tests.
#ifndef TESTS_TEST_UTIL_H_
#define TESTS_TEST_UTIL_H_

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "protocol/buffer.h"
#include "protocol/frame.h"

namespace tests {

// A connected client, or null after recording a test failure: check it before use with
// ASSERT_NE(c, nullptr), or use the helpers below that report instead of crashing.
// A path in the test's own temporary directory (TEST_TMPDIR; /tmp outside Bazel).
inline std::string TempPath(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/", name);
}

inline std::unique_ptr<client::Client> ConnectTo(int port, const char* host = "127.0.0.1",
                                                 absl::Duration timeout = absl::Seconds(30)) {
  absl::StatusOr<std::unique_ptr<client::Client>> c = client::Client::Connect(host, port, timeout);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

// A reply's payload, or a description of why there is none, so that a comparison reports the
// failure instead of dereferencing an error:
//   EXPECT_EQ(PayloadOf(c->Call("hi")), "hi");
inline std::string PayloadOf(const absl::StatusOr<client::Client::Reply>& reply) {
  if (!reply.ok()) return absl::StrCat("<no reply: ", reply.status().ToString(), ">");
  return reply->payload;
}

// True for an error reply (docs/protocol.md); false for a normal one or no reply at all.
inline bool IsErrorReply(const absl::StatusOr<client::Client::Reply>& reply) {
  return reply.ok() && reply->is_error;
}

// One request on a new connection: its reply's payload, or why there is none.
inline std::string CallOnce(int port, absl::string_view payload,
                            absl::Duration timeout = absl::Seconds(30)) {
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect("127.0.0.1", port, timeout);
  if (!c.ok()) return absl::StrCat("<no connection: ", c.status().ToString(), ">");
  return PayloadOf((*c)->Call(payload));
}

// The bytes of one frame carrying `payload`.
inline std::string Frame(absl::string_view payload) {
  protocol::Buffer out;
  protocol::AppendFrame(payload, &out);
  return std::string(out.view());
}

// A 4-byte header declaring `length`, with no payload.
inline std::string Header(uint32_t length) {
  char bytes[4];
  protocol::WriteBigEndian32(length, bytes);
  return std::string(bytes, 4);
}

// True once the server has closed `c`'s connection (its next read sees the end).
inline bool ClosedByServer(client::Client& c) {
  absl::StatusOr<client::Client::Reply> reply = c.Receive();
  return !reply.ok() && absl::IsUnavailable(reply.status());
}

}  // namespace tests

#endif  // TESTS_TEST_UTIL_H_
