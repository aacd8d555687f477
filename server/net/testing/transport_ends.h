// What the transport tests bind a transport to, in place of a Connection: one loopback pair's
// ends, a recording TransportEvents, a real decoder and a real output queue; plus the small
// socket and loop helpers those tests share.
//
//   Ends ends;
//   RawTransport transport(ends.binding(), &loop.poller(), scratch, kScratchBytes);
//   WriteAll(ends.client, Frame("hi"));
//   ASSERT_TRUE(WaitReadable(ends.server));
//   transport.Read();
//   EXPECT_EQ(TakeFrames(ends.decoder), std::vector<std::string>{"hi"});
#ifndef SERVER_NET_TESTING_TRANSPORT_ENDS_H_
#define SERVER_NET_TESTING_TRANSPORT_ENDS_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"
#include "server/net/transport.h"

namespace server {
namespace testing {

// The size of the read buffer the tests give a readiness transport (the server's, too).
inline constexpr size_t kScratchBytes = 256 << 10;

// Reads exactly `n` bytes from a blocking socket (what comes short of them at its end).
std::string ReadExactly(int fd, size_t n);

// Waits (bounded) until `fd` is readable; false on timeout.
bool WaitReadable(int fd, int timeout_ms = 5000);

// Closes `fd` with a reset (SO_LINGER 0) instead of a FIN.
void CloseWithReset(int fd);

// Takes every complete frame the decoder holds.
std::vector<std::string> TakeFrames(protocol::FrameDecoder& decoder);

// Runs loop turns until `done`, bounded; false on timeout.
bool RunLoopUntil(common::EventLoop& loop, const std::function<bool()>& done,
                  absl::Duration timeout = absl::Seconds(10));

// The connection's part, recorded.
class RecordingEvents : public TransportEvents {
 public:
  void OnTransportReady(bool readable, bool writable, bool failed) override {
    readable_ += readable;
    writable_ += writable;
    failed_ += failed;
  }
  int readable() const { return readable_; }
  int writable() const { return writable_; }
  int failed() const { return failed_; }

 private:
  int readable_ = 0;
  int writable_ = 0;
  int failed_ = 0;
};

// One connection's ends and buffers: what a Connection binds its transport to.
struct Ends {
  explicit Ends(size_t segment_bytes = protocol::OutputQueue::kSegmentBytes);
  ~Ends();
  Ends(const Ends&) = delete;
  Ends& operator=(const Ends&) = delete;

  Transport::Binding binding() { return {server, &events, &decoder, &output}; }
  // Queues `payload` as one framed reply.
  void QueueReply(absl::string_view payload);

  int server = -1;
  int client = -1;
  RecordingEvents events;
  protocol::FrameDecoder decoder{{.max_frame_bytes = 1 << 20}};
  protocol::OutputQueue output;
};

}  // namespace testing
}  // namespace server

#endif  // SERVER_NET_TESTING_TRANSPORT_ENDS_H_
