// RawTransport through the Transport interface, over a loopback TCP pair, with a recording
// connection and a real decoder and output queue.
#include "server/net/raw_transport.h"

#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/io_backend.h"
#include "gtest/gtest.h"
#include "protocol/output_queue.h"
#include "server/net/testing/connection_harness.h"
#include "server/net/testing/transport_ends.h"

namespace server {
namespace {

using testing::CloseWithReset;
using testing::Ends;
using testing::Frame;
using testing::kScratchBytes;
using testing::ReadExactly;
using testing::RunLoopUntil;
using testing::TakeFrames;
using testing::WaitReadable;
using testing::WriteAll;

class RawTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loop_.Init(common::IoBackend::kEpoll).ok()); }

  common::EventLoop loop_;
  Ends ends_;
  std::unique_ptr<char[]> scratch_{new char[kScratchBytes]};
  RawTransport transport_{ends_.binding(), &loop_.poller(), scratch_.get(), kScratchBytes};
};

TEST_F(RawTransportTest, ReadsWhatThePeerSentIntoTheDecoder) {
  const std::string hello = Frame("hello");
  ASSERT_TRUE(WriteAll(ends_.client, hello.substr(0, 3)));
  ASSERT_TRUE(WaitReadable(ends_.server));
  IoResult read = transport_.Read();
  EXPECT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, 3);
  EXPECT_TRUE(TakeFrames(ends_.decoder).empty());  // a frame split across reads waits

  ASSERT_TRUE(WriteAll(ends_.client, hello.substr(3) + Frame("x")));
  ASSERT_TRUE(WaitReadable(ends_.server));
  read = transport_.Read();
  EXPECT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, static_cast<int64_t>(hello.size() - 3 + Frame("x").size()));
  EXPECT_EQ(TakeFrames(ends_.decoder), (std::vector<std::string>{"hello", "x"}));

  read = transport_.Read();  // nothing more there
  EXPECT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, 0);
}

TEST(RawTransportSegmentsTest, WritesAnOutputQueueOfManySegmentsInOneCall) {
  common::EventLoop loop;
  ASSERT_TRUE(loop.Init(common::IoBackend::kEpoll).ok());
  Ends ends(/*segment_bytes=*/64);  // a segment per reply
  std::unique_ptr<char[]> scratch(new char[kScratchBytes]);
  RawTransport transport(ends.binding(), &loop.poller(), scratch.get(), kScratchBytes);
  std::string expected;
  for (int i = 0; i < 12; ++i) {
    const std::string payload(100, static_cast<char>('a' + i));
    ends.QueueReply(payload);
    expected += Frame(payload);
  }
  absl::string_view parts[16];
  ASSERT_EQ(ends.output.Peek(parts, 16), 12);

  const IoResult written = transport.Write();
  EXPECT_EQ(written.kind, IoResult::kOk);
  EXPECT_EQ(written.bytes, static_cast<int64_t>(expected.size()));
  EXPECT_TRUE(ends.output.empty());
  EXPECT_EQ(ReadExactly(ends.client, expected.size()), expected);
  transport.Close();
}

TEST_F(RawTransportTest, ReportsEndAtEndOfStream) {
  ASSERT_TRUE(WriteAll(ends_.client, Frame("last")));
  ASSERT_EQ(shutdown(ends_.client, SHUT_WR), 0);
  ASSERT_TRUE(WaitReadable(ends_.server));
  EXPECT_EQ(transport_.Read().kind, IoResult::kOk);  // the bytes before the end come first
  EXPECT_EQ(TakeFrames(ends_.decoder), (std::vector<std::string>{"last"}));
  const IoResult read = transport_.Read();
  EXPECT_EQ(read.kind, IoResult::kEnd);
}

TEST_F(RawTransportTest, ReportsErrorAfterAReset) {
  CloseWithReset(ends_.client);
  ends_.client = -1;
  ASSERT_TRUE(WaitReadable(ends_.server));
  const IoResult read = transport_.Read();
  EXPECT_EQ(read.kind, IoResult::kError);
  EXPECT_EQ(read.error, ECONNRESET);
}

TEST_F(RawTransportTest, WaitRegistersInterestSoThatEventsReachTheConnection) {
  ASSERT_TRUE(transport_.Wait(/*read=*/false, /*write=*/false).ok());
  ASSERT_TRUE(WriteAll(ends_.client, Frame("ping")));
  ASSERT_TRUE(WaitReadable(ends_.server));
  loop_.RunOnce(50);  // readable, but no interest: nothing is delivered
  EXPECT_EQ(ends_.events.readable(), 0);

  ASSERT_TRUE(transport_.Wait(/*read=*/true, /*write=*/false).ok());
  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return ends_.events.readable() > 0; }));
  EXPECT_EQ(ends_.events.writable(), 0);
  EXPECT_EQ(transport_.Read().kind, IoResult::kOk);
  EXPECT_EQ(TakeFrames(ends_.decoder), (std::vector<std::string>{"ping"}));

  ASSERT_TRUE(transport_.Wait(/*read=*/false, /*write=*/true).ok());
  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return ends_.events.writable() > 0; }));
  transport_.Close();
}

// TLS: the server's transport against a client tls::Stream on the other end, both driven on

}  // namespace
}  // namespace server
