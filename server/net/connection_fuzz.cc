// Fuzz target for a real Connection (the echo handler) on a real loop, through the harness
// (server/net/testing/connection_harness.h): a client on the other end of a loopback TCP pair
// sends the stream in chunks, with loop turns between writes, reading whatever comes back.
// Every reply must be the request it answers, in order, and the stream must end exactly where
// a one-shot decode of it ends: all complete frames answered, or the connection closed at the
// same bad header (counted as a protocol error), and nothing after.
//
// Input layout: [chunk seed][output limit][batch limit][frame limit][stream...]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "server/net/connection.h"
#include "server/net/testing/connection_harness.h"

namespace {

// Says which property failed, then crashes (the fuzzer's and the replaying test's signal).
[[noreturn]] void Fail(const char* why) {
  std::fprintf(stderr, "connection_fuzz: %s\n", why);
  __builtin_trap();
}

constexpr size_t kMaxStreamBytes = 64 << 10;
constexpr size_t kMaxChunks = 256;  // loop turns per input stay few: chunks grow to fit

// Every frame of `bytes`, decoded in one go (the reference), and whether it ended in an error.
std::vector<std::string> DecodeAll(absl::string_view bytes, uint32_t max_frame_bytes,
                                   bool allow_errors, bool* failed, size_t* left) {
  protocol::FrameDecoder decoder(
      {.max_frame_bytes = max_frame_bytes, .allow_error_frames = allow_errors});
  decoder.Feed(bytes);
  std::vector<std::string> frames;
  *failed = false;
  while (true) {
    absl::StatusOr<std::optional<protocol::Frame>> frame = decoder.Next();
    if (!frame.ok()) {
      *failed = true;
      break;
    }
    if (!frame->has_value()) break;
    if ((*frame)->kind != protocol::FrameKind::kNormal) Fail("an error reply");  // echo never fails
    frames.emplace_back((*frame)->payload);
  }
  *left = decoder.buffered_bytes();
  return frames;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const absl::string_view stream(reinterpret_cast<const char*>(data) + 4,
                                 std::min(size - 4, kMaxStreamBytes));
  const size_t chunk_size =
      std::max<size_t>(1 + data[0] % 97, (stream.size() + kMaxChunks - 1) / kMaxChunks);
  server::testing::ConnectionHarness::Options options;
  options.max_frames_per_batch = 1 + data[2] % 8;
  options.max_frame_bytes = 16 + uint32_t{data[3]} * 4;  // replies of up to that size are echoed
  server::testing::ConnectionHarness h(options);
  h.set_max_pending_output(size_t{data[1]} * 16);  // 0: pauses after every reply

  int client = -1;
  h.Open(&client);
  // Small chunks must leave at once, not wait for the ACK of the last (Nagle).
  const int one = 1;
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::string replies;
  bool eof = false;
  auto read_replies = [&] {
    char buffer[16 << 10];
    while (!eof) {
      const ssize_t n = recv(client, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n > 0) {
        replies.append(buffer, n);
      } else if (n == 0 || errno != EAGAIN) {
        eof = true;  // closed by the server (a reset after a bad header, or a FIN)
      } else {
        return;
      }
    }
  };
  // A turn waits up to 5 ms when its loop has nothing (the probation set is outside it): a
  // posted no-op ends it at once, so the input's turns cost no waiting.
  auto run_until = [&](const std::function<bool()>& done) {
    h.loop().Post([] {});
    const bool ok = h.RunUntil([&] {
      read_replies();
      if (done()) return true;
      h.loop().Post([] {});
      return false;
    });
    if (!ok) Fail("the connection stalled");
  };

  int64_t sent = 0;
  bool send_failed = false;
  for (size_t pos = 0; pos < stream.size() && h.closed() == 0 && !send_failed; pos += chunk_size) {
    absl::string_view chunk = stream.substr(pos, chunk_size);
    run_until([&] {
      while (!chunk.empty()) {
        const ssize_t n =
            send(client, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          chunk.remove_prefix(n);
          sent += n;
        } else {
          if (errno != EAGAIN) send_failed = true;  // the server has closed
          break;
        }
      }
      // Until the connection has read it all (or closed): what it does with it is its own.
      return h.closed() > 0 || send_failed ||
             (chunk.empty() && h.stats().bytes_in.value() == sent);
    });
  }
  if (h.closed() == 0) shutdown(client, SHUT_WR);
  run_until([&] { return eof && h.freed() == 1; });
  close(client);

  bool reference_failed = false, replies_failed = false;
  size_t reference_left = 0, replies_left = 0;
  const std::vector<std::string> requests =
      DecodeAll(stream, options.max_frame_bytes, false, &reference_failed, &reference_left);
  const std::vector<std::string> answered =
      DecodeAll(replies, protocol::kMaxFrameLimit, true, &replies_failed, &replies_left);
  if (replies_failed || replies_left != 0) Fail("the replies are not whole frames");
  if (answered != requests) Fail("the replies are not the requests, in order");
  if (h.stats().closed_protocol_error.value() != (reference_failed ? 1 : 0)) {
    Fail("closed for a protocol error where a one-shot decode has none, or the reverse");
  }
  if (h.stats().frames_in.value() != static_cast<int64_t>(requests.size())) {
    Fail("frames taken differ from the frames of the stream");
  }
  return 0;
}
