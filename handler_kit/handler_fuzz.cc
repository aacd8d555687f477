// The handler kit's fuzz target (handler_test_suite.bzl): a real Connection on a real loop
// (server/net/testing/connection_harness.h) serving the handler registered as kHandlerName,
// fed any bytes in any split by a client on the other end of a loopback TCP pair. It must not
// crash, must answer every complete frame before the first bad header, in order, with what the
// same handler answers those requests one at a time through the test kit (a fresh service,
// handlers/handler_testing.h), and must close the connection for a protocol error exactly when
// a one-shot decode of the stream meets a bad header. A request whose answer asks to close the
// connection (CloseAfterReply) ends what the server owes: see OwedFrames.
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
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "handler_kit/started_service.h"
#include "handlers/handler_testing.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "server/dispatch/dispatch.h"
#include "server/net/connection.h"
#include "server/net/testing/connection_harness.h"

#include "absl/strings/match.h"

namespace handler_kit {
// Defined by the source handler_test_suite generates for each handler: its registered name,
// and its own flags ("{tmp}" a fresh directory).
extern const char kHandlerName[];
extern const char kHandlerFlags[];
}  // namespace handler_kit

namespace {

using handler_kit::kHandlerFlags;
using handler_kit::kHandlerName;

// Says which property failed, then crashes (the fuzzer's and the replaying test's signal).
[[noreturn]] void Fail(const char* why) {
  std::fprintf(stderr, "handler_fuzz(%s): %s\n", kHandlerName, why);
  __builtin_trap();
}

constexpr size_t kMaxStreamBytes = 64 << 10;
constexpr size_t kMaxChunks = 256;  // loop turns per input stay few: chunks grow to fit

std::unique_ptr<handler_kit::StartedService> StartService() {
  absl::StatusOr<std::unique_ptr<handler_kit::StartedService>> started =
      handler_kit::StartedService::Start(kHandlerName, kHandlerFlags);
  if (!started.ok()) {
    std::fprintf(stderr, "%s\n", std::string(started.status().message()).c_str());
    Fail("the service did not start");
  }
  return *std::move(started);
}

// The complete frames of `bytes`, decoded in one go, and whether a bad header ended them.
std::vector<std::string> DecodeAll(absl::string_view bytes, uint32_t max_frame_bytes,
                                   bool* failed) {
  protocol::FrameDecoder decoder({.max_frame_bytes = max_frame_bytes});
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
    frames.emplace_back((*frame)->payload);
  }
  return frames;
}

// What the server owes one request: its reply frame (as the server encodes it: an oversize
// reply becomes its error reply), whether it came later, and whether it asked to close.
struct Expected {
  std::string frame;
  bool later = false;
  bool closes = false;
};

// Each of `requests` answered one at a time by a fresh service's handler, through the test kit.
std::vector<Expected> ExpectedAnswers(const std::vector<std::string>& requests,
                                      uint32_t max_frame_bytes) {
  std::unique_ptr<handler_kit::StartedService> started = StartService();
  std::unique_ptr<handlers::Handler> handler = started->service().NewHandler({});
  handlers::TestConnection connection(*handler);
  std::vector<Expected> expected(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    expected[i].later = connection.Send(requests[i]) == handlers::TestConnection::How::kLater;
    const absl::StatusOr<std::string> answer = connection.Await(i);
    if (absl::IsDeadlineExceeded(answer.status()) &&
        absl::StartsWith(answer.status().message(), "no answer")) {
      Fail("the test kit got no answer to a request");
    }
    protocol::Buffer out;
    server::AppendReplyFrame(answer.status(), answer.ok() ? *answer : "", max_frame_bytes, &out);
    expected[i].frame = std::string(out.view());
    expected[i].closes = connection.closes_after(i);
  }
  if (connection.misuses() != 0) Fail("the handler misused its reply");
  return expected;
}

// Which requests the server must take: every one, or, once a request asks to close, the ones up
// to it. A close asked for at once stops the taking there; one asked for in a later answer
// comes while later requests may be taken and answered, up to every one.
struct Owed {
  size_t at_least = 0;
  size_t at_most = 0;
  bool close_asked = false;
};

Owed OwedFrames(const std::vector<Expected>& expected) {
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i].closes) {
      return {.at_least = i + 1,
              .at_most = expected[i].later ? expected.size() : i + 1,
              .close_asked = true};
    }
  }
  return {.at_least = expected.size(), .at_most = expected.size()};
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
  options.max_frame_bytes = 16 + uint32_t{data[3]} * 4;
  std::unique_ptr<handler_kit::StartedService> started = StartService();
  options.factory = [&started](const handlers::HandlerContext& context) {
    return started->service().NewHandler(context);
  };
  std::string replies;
  bool closed_by_server = false;
  int64_t protocol_errors = 0;
  size_t frames_taken = 0;
  bool reference_failed = false;
  const std::vector<std::string> requests =
      DecodeAll(stream, options.max_frame_bytes, &reference_failed);
  {
    server::testing::ConnectionHarness h(options);
    h.set_max_pending_output(size_t{data[1]} * 16);  // 0: pauses after every reply

    int client = -1;
    h.Open(&client);
    // Small chunks must leave at once, not wait for the ACK of the last (Nagle).
    const int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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
      }, absl::Seconds(10));
      if (!ok) Fail("the connection stalled: a request left unanswered?");
    };

    int64_t sent = 0;
    bool send_failed = false;
    for (size_t pos = 0; pos < stream.size() && h.closed() == 0 && !send_failed;
         pos += chunk_size) {
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
        return h.closed() > 0 || send_failed ||
               (chunk.empty() && h.stats().bytes_in.value() == sent);
      });
    }
    closed_by_server = h.closed() != 0;
    if (h.closed() == 0) shutdown(client, SHUT_WR);
    run_until([&] { return eof && h.freed() == 1; });
    close(client);
    protocol_errors = h.stats().closed_protocol_error.value();
    frames_taken = static_cast<size_t>(h.stats().frames_in.value());
    if (h.stats().handler_misuse.value() != 0) Fail("the handler misused its reply");
  }
  started.reset();
  const std::vector<Expected> expected = ExpectedAnswers(requests, options.max_frame_bytes);
  const Owed owed = OwedFrames(expected);
  if (closed_by_server && !reference_failed && !owed.close_asked) {
    Fail("closed with no bad header in the stream and no close asked for");
  }
  if (frames_taken < owed.at_least || frames_taken > owed.at_most) {
    Fail("frames taken differ from the frames of the stream up to a close asked for");
  }
  // A bad header is met only if the taking went past every request.
  const bool header_met = reference_failed && frames_taken == requests.size() &&
                          (!owed.close_asked || expected[owed.at_least - 1].later);
  if (protocol_errors > (header_met ? 1 : 0) ||
      (reference_failed && !owed.close_asked && protocol_errors != 1)) {
    Fail("closed for a protocol error where a one-shot decode has none, or the reverse");
  }
  std::string owed_replies;
  for (size_t i = 0; i < frames_taken; ++i) owed_replies += expected[i].frame;
  if (replies != owed_replies) {
    Fail("the replies are not the handler's answers to the requests, in order");
  }
  return 0;
}
