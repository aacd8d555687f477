// UringTransport through the Transport interface: completions instead of readiness, on a loop
// of that backend, over a loopback TCP pair.
#include "server/net/uring_transport.h"

#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/io_backend.h"
#include "gtest/gtest.h"
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

class UringTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop_.Init(common::IoBackend::kIoUring).ok());
    if (loop_.backend() != common::IoBackend::kIoUring) {
      GTEST_SKIP() << "io_uring cannot be set up here (the loop fell back to epoll)";
    }
    loop_.RunOnce(0);  // the ring's one submitter is this thread from now on
    transport_ = std::make_unique<UringTransport>(ends_.binding(), loop_.uring());
  }
  void TearDown() override {
    if (transport_ == nullptr) return;
    transport_->Close();
    // The kernel may still hold its operations: it must live until they end.
    EXPECT_TRUE(RunLoopUntil(loop_, [&] { return transport_->idle(); }));
  }

  common::EventLoop loop_;
  Ends ends_;
  std::unique_ptr<UringTransport> transport_;
};

TEST_F(UringTransportTest, ReceivesByCompletionIntoTheDecoder) {
  ASSERT_TRUE(transport_->Wait(/*read=*/true, /*write=*/false).ok());
  ASSERT_TRUE(WriteAll(ends_.client, Frame("hello")));
  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return ends_.events.readable() > 0; }));
  // The bytes are in the decoder already, kept beyond the ring's buffer.
  EXPECT_EQ(TakeFrames(ends_.decoder), (std::vector<std::string>{"hello"}));
  EXPECT_TRUE(transport_->input_pending());
  IoResult read = transport_->Read();
  EXPECT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, static_cast<int64_t>(Frame("hello").size()));
  EXPECT_FALSE(transport_->input_pending());
  read = transport_->Read();  // reported once
  EXPECT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, 0);

  ASSERT_EQ(shutdown(ends_.client, SHUT_WR), 0);
  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return transport_->input_pending(); }));
  EXPECT_EQ(transport_->Read().kind, IoResult::kEnd);
}

TEST_F(UringTransportTest, WriteQueuesASendWhoseCompletionTheNextWriteReports) {
  ends_.QueueReply("reply");
  const size_t size = Frame("reply").size();
  IoResult written = transport_->Write();
  EXPECT_EQ(written.kind, IoResult::kOk);
  EXPECT_EQ(written.bytes, 0);  // queued, submitted with the loop's next turn
  EXPECT_EQ(ends_.output.size(), size);
  EXPECT_FALSE(transport_->idle());

  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return ends_.events.writable() > 0; }));
  EXPECT_TRUE(ends_.output.empty());
  written = transport_->Write();
  EXPECT_EQ(written.kind, IoResult::kOk);
  EXPECT_EQ(written.bytes, static_cast<int64_t>(size));
  EXPECT_EQ(ReadExactly(ends_.client, size), Frame("reply"));
  EXPECT_TRUE(transport_->idle());
}

TEST_F(UringTransportTest, CloseWithASendInFlightIsBusyUntilItsCompletion) {
  // The peer reads nothing: fill the server's socket, so that the ring's send must wait.
  const std::string filler(64 << 10, 'f');
  while (send(ends_.server, filler.data(), filler.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  ends_.QueueReply(std::string(64 << 10, 'r'));
  ASSERT_EQ(transport_->Write().kind, IoResult::kOk);
  loop_.RunOnce(0);  // submits the send
  loop_.RunOnce(20);
  ASSERT_EQ(ends_.events.writable(), 0) << "the send completed: the socket was not full";
  EXPECT_FALSE(transport_->idle());

  transport_->Close();
  EXPECT_TRUE(transport_->output_released());  // cancelled at once: the output may be freed
  EXPECT_FALSE(transport_->idle());            // but its completion is still to come
  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return transport_->idle(); }));
  EXPECT_EQ(ends_.events.writable(), 0);  // closed: nothing more is delivered
}

}  // namespace
}  // namespace server
