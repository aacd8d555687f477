// Connection's state machine, driven through a real loopback socket. Framing: frames answered whole and in order however the stream is split; probation; bad headers; what the connection holds of a partial frame.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "protocol/frame.h"
#include "server/net/connection.h"
#include "server/net/testing/scripted_client.h"

namespace server {
namespace {

using testing::Client;
using testing::ConnectionHarness;
using testing::Deferred;
using testing::Frame;
using testing::HappensWithin;
using testing::Header;
using testing::ReadAvailable;
using testing::RunWith;
using testing::Scripted;
using testing::WriteAll;

TEST(ConnectionTest, AnswersAFrameAndLeavesProbation) {
  ConnectionHarness h;
  int client = -1;
  Connection* c = h.Open(&client);
  EXPECT_EQ(c->state(), ConnectionState::kProbation);
  ASSERT_TRUE(WriteAll(client, Frame("hello")));
  std::string got;
  ASSERT_TRUE(h.RunUntil([&] {
    got += ReadAvailable(client);
    return got.size() >= Frame("hello").size();
  }));
  EXPECT_EQ(got, Frame("hello"));
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
  close(client);
  ASSERT_TRUE(h.RunUntil([&] { return h.freed() == 1; }));
}

TEST(ConnectionTest, StaysInProbationUntilTheFirstFrameCompletes) {
  ConnectionHarness h;
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  const std::string frame = Frame("hello");
  client.Send(frame.substr(0, 6));
  ASSERT_TRUE(RunWith(h, client, [&] { return h.stats().bytes_in.value() == 6; }));
  EXPECT_EQ(c->state(), ConnectionState::kProbation);
  EXPECT_EQ(client.received(), "");

  client.Send(frame.substr(6));
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received().size() == frame.size(); }));
  EXPECT_EQ(client.received(), frame);
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
}

TEST(ConnectionTest, AnswersPipelinedFramesInOrder) {
  ConnectionHarness h;
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  std::string stream;
  for (int i = 0; i < 100; ++i) stream += Frame(std::string(i % 17, static_cast<char>('a' + i % 26)));
  client.Send(stream);  // one write: the frames arrive together
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received().size() >= stream.size(); }));
  EXPECT_EQ(client.received(), stream);
  EXPECT_EQ(h.stats().frames_in.value(), 100);
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
}

// The stream arrives one byte per loop turn: each frame is answered as its last byte comes,
// never before, and the replies are exact.

TEST(ConnectionTest, AnswersAStreamSplitAtEveryByteBoundary) {
  ConnectionHarness h;
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  const std::vector<std::string> frames = {Frame(""), Frame("a"), Frame("hello world"),
                                           Frame(std::string(300, 'x')), Frame("z")};
  std::string stream;
  std::vector<size_t> ends;  // where each frame ends in the stream
  for (const std::string& f : frames) {
    stream += f;
    ends.push_back(stream.size());
  }
  size_t answered = 0;  // the stream's prefix of complete frames
  for (size_t i = 0; i < stream.size(); ++i) {
    client.Send(stream.substr(i, 1));
    for (size_t end : ends) {
      if (end <= i + 1) answered = end;
    }
    ASSERT_TRUE(RunWith(h, client, [&] {
      return h.stats().bytes_in.value() == static_cast<int64_t>(i + 1) &&
             client.received().size() >= answered;
    })) << "byte " << i;
    ASSERT_EQ(client.received(), stream.substr(0, answered)) << "byte " << i;
  }
  EXPECT_EQ(client.received(), stream);
  EXPECT_EQ(h.stats().frames_in.value(), static_cast<int64_t>(frames.size()));
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
}

TEST(ConnectionTest, BadHeaderAnswersTheFramesBeforeThenCloses) {
  ConnectionHarness::Options options;
  options.max_frame_bytes = 1024;
  ConnectionHarness h(options);
  int fd = -1;
  h.Open(&fd);
  Client client(fd);
  client.Send(Frame("one") + Frame("two") + Header(1025) + "xxxx");
  ASSERT_TRUE(RunWith(h, client, [&] { return client.eof(); }));
  EXPECT_EQ(client.received(), Frame("one") + Frame("two"));
  EXPECT_EQ(h.stats().closed_protocol_error.value(), 1);
  EXPECT_EQ(h.stats().frames_in.value(), 2);
  EXPECT_EQ(h.closed(), 1);
}

TEST(ConnectionTest, BadHeaderAfterADeferredRequestClosesOnceItIsAnswered) {
  Deferred d;
  ConnectionHarness::Options options;
  options.max_frame_bytes = 1024;
  ConnectionHarness h(Scripted(&d, options));
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("defer") + Header(1025));
  ASSERT_TRUE(RunWith(h, client, [&] { return c->state() == ConnectionState::kClosingAfterReply; }));
  EXPECT_EQ(h.stats().closed_protocol_error.value(), 1);
  EXPECT_EQ(client.received(), "");
  EXPECT_FALSE(client.eof());
  ASSERT_EQ(d.completions.size(), 1u);

  d.completions[0].Finish("answer");
  ASSERT_TRUE(RunWith(h, client, [&] { return client.eof(); }));
  EXPECT_EQ(client.received(), Frame("answer"));
  EXPECT_EQ(h.closed(), 1);
}

TEST(ConnectionTest, HeldBytesFollowAPartialLargeFrame) {
  ConnectionHarness::Options options;
  options.max_frame_bytes = 8 << 20;
  ConnectionHarness h(options);
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  const std::string frame = Frame(std::string(4 << 20, 'L'));
  constexpr int64_t kSlack = 64 << 10;  // a page of the buffer's, the output's spare room

  client.Send(frame.substr(0, 256 << 10));
  ASSERT_TRUE(RunWith(h, client, [&] { return h.stats().bytes_in.value() == (256 << 10); }));
  const int64_t first = c->HeldBytes();
  EXPECT_GE(first, 256 << 10);
  EXPECT_LE(first, (256 << 10) + kSlack);
  EXPECT_EQ(h.held_bytes(c), first);

  client.Send(frame.substr(256 << 10, 768 << 10));
  ASSERT_TRUE(RunWith(h, client, [&] { return h.stats().bytes_in.value() == (1 << 20); }));
  const int64_t second = c->HeldBytes();
  EXPECT_GE(second, 1 << 20);
  EXPECT_LE(second, (1 << 20) + kSlack);
  EXPECT_EQ(h.held_bytes(c), second);

  client.Send(frame.substr(1 << 20));
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received().size() >= frame.size(); }));
  EXPECT_TRUE(client.received() == frame);
  EXPECT_LT(c->HeldBytes(), kSlack);  // answered and written: the frame's memory is gone
  EXPECT_EQ(h.held_bytes(c), c->HeldBytes());
}

TEST(ConnectionTest, ReportsAnIncompleteFrameUntilItCompletes) {
  ConnectionHarness h;
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  EXPECT_FALSE(h.incomplete_frame(c));
  const std::string frame = Frame("progress");
  client.Send(frame.substr(0, 2));  // half a header
  ASSERT_TRUE(RunWith(h, client, [&] { return h.stats().bytes_in.value() == 2; }));
  EXPECT_TRUE(h.incomplete_frame(c));
  client.Send(frame.substr(2, 6));  // the header and part of the payload
  ASSERT_TRUE(RunWith(h, client, [&] { return h.stats().bytes_in.value() == 8; }));
  EXPECT_TRUE(h.incomplete_frame(c));
  client.Send(frame.substr(8));
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received() == frame; }));
  EXPECT_FALSE(h.incomplete_frame(c));
}

}  // namespace
}  // namespace server
