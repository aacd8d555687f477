#include "server/net/testing/transport_ends.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <tuple>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "protocol/frame.h"
#include "server/net/testing/connection_harness.h"

namespace server {
namespace testing {

std::string ReadExactly(int fd, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    const ssize_t r = recv(fd, out.data() + got, n - got, 0);
    if (r <= 0) break;
    got += r;
  }
  out.resize(got);
  return out;
}

bool WaitReadable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

void CloseWithReset(int fd) {
  linger no_linger{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
  close(fd);
}

std::vector<std::string> TakeFrames(protocol::FrameDecoder& decoder) {
  std::vector<std::string> frames;
  while (true) {
    absl::StatusOr<std::optional<protocol::Frame>> frame = decoder.Next();
    if (!frame.ok() || !frame->has_value()) break;
    frames.emplace_back((*frame)->payload);
  }
  decoder.Retain();
  return frames;
}

bool RunLoopUntil(common::EventLoop& loop, const std::function<bool()>& done,
                  absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    loop.RunOnce(10);
  }
  return true;
}

Ends::Ends(size_t segment_bytes) : output(segment_bytes) {
  std::tie(server, client) = LoopbackPair();
}

Ends::~Ends() {
  if (server >= 0) close(server);
  if (client >= 0) close(client);
}

void Ends::QueueReply(absl::string_view payload) {
  protocol::AppendFrame(payload, &output.BufferForNextReply());
}

}  // namespace testing
}  // namespace server
