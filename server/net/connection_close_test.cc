// Connection's state machine, driven through a real loopback socket. Closing: after a reply, on the client's half-close or reset, with answers still owed.
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

TEST(ConnectionTest, HandlerCloseAfterReplyAnswersThenCloses) {
  Deferred d;
  ConnectionHarness h(Scripted(&d));
  int fd = -1;
  h.Open(&fd);
  Client client(fd);
  client.Send(Frame("a") + Frame("close") + Frame("late"));
  ASSERT_TRUE(RunWith(h, client, [&] { return client.eof(); }));
  EXPECT_EQ(client.received(), Frame("a") + Frame("close"));  // "late" is not answered
  EXPECT_EQ(h.stats().frames_in.value(), 2);
  EXPECT_EQ(h.closed(), 1);
  ASSERT_TRUE(h.RunUntil([&] { return h.freed() == 1; }));
}

// With the reply deferred, the state can be seen: closing, owing the one reply, reading no more.

TEST(ConnectionTest, DeferredCloseAfterReplyWaitsInClosingAfterReply) {
  Deferred d;
  ConnectionHarness h(Scripted(&d));
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("defer-close"));
  ASSERT_TRUE(RunWith(h, client, [&] { return d.completions.size() == 1; }));
  EXPECT_EQ(c->state(), ConnectionState::kClosingAfterReply);
  client.Send(Frame("late"));
  EXPECT_FALSE(HappensWithin(h, client, [&] { return !client.received().empty() || client.eof(); }));
  EXPECT_EQ(c->state(), ConnectionState::kClosingAfterReply);

  d.completions[0].Finish("bye");
  ASSERT_TRUE(RunWith(h, client, [&] { return client.eof(); }));
  EXPECT_EQ(client.received(), Frame("bye"));
  EXPECT_EQ(h.stats().frames_in.value(), 1);
  EXPECT_EQ(h.closed(), 1);
}

// A close asked for in a later answer, while the connection already closes after a bad
// header: the answers still owed after it are written all the same.
TEST(ConnectionTest, LateCloseAfterABadHeaderStillWritesLaterAnswers) {
  Deferred d;
  ConnectionHarness h(Scripted(&d, {.max_frame_bytes = 64}));
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("a") + Frame("defer-1") + Frame("defer-2") + Header(1000) + "more");
  ASSERT_TRUE(RunWith(h, client, [&] { return d.completions.size() == 2; }));
  EXPECT_EQ(c->state(), ConnectionState::kClosingAfterReply);
  d.completions[0].CloseAfterReply();
  d.completions[0].Finish("x");
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received() == Frame("a") + Frame("x"); }));
  d.completions[1].Finish("y");
  ASSERT_TRUE(RunWith(h, client, [&] { return client.eof(); }));
  EXPECT_EQ(client.received(), Frame("a") + Frame("x") + Frame("y"));
}

TEST(ConnectionTest, HalfClosedClientStillGetsItsReply) {
  Deferred d;
  ConnectionHarness h(Scripted(&d));
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("defer"));
  ASSERT_TRUE(RunWith(h, client, [&] { return d.completions.size() == 1; }));
  client.ShutdownWrite();
  ASSERT_TRUE(RunWith(h, client, [&] { return c->state() == ConnectionState::kPeerClosed; }));
  EXPECT_EQ(client.received(), "");
  EXPECT_FALSE(client.eof());

  d.completions[0].Finish("reply");
  ASSERT_TRUE(RunWith(h, client, [&] { return client.eof(); }));
  EXPECT_EQ(client.received(), Frame("reply"));
  ASSERT_TRUE(h.RunUntil([&] { return h.freed() == 1; }));
}

// One frame per batch: the end of the stream is read while frames wait for the end of the
// turn, and they are still answered.

TEST(ConnectionTest, HalfCloseAfterPipelinedFramesAnswersThemAll) {
  ConnectionHarness::Options options;
  options.max_frames_per_batch = 1;
  ConnectionHarness h(options);
  int fd = -1;
  h.Open(&fd);
  Client client(fd);
  std::string stream;
  for (int i = 0; i < 10; ++i) stream += Frame("frame" + std::to_string(i));
  client.Send(stream);
  client.ShutdownWrite();
  ASSERT_TRUE(RunWith(h, client, [&] { return client.eof(); }));
  EXPECT_EQ(client.received(), stream);
  EXPECT_GE(h.stats().fairness_yields.value(), 1);
  ASSERT_TRUE(h.RunUntil([&] { return h.freed() == 1; }));
}

// The same with half a frame after them: the half is never owed, so once the frames before it
// are answered the connection closes.

TEST(ConnectionTest, HalfCloseAfterPipelinedFramesAndHalfAFrameAnswersThenCloses) {
  ConnectionHarness::Options options;
  options.max_frames_per_batch = 1;
  ConnectionHarness h(options);
  int fd = -1;
  h.Open(&fd);
  Client client(fd);
  const std::string stream = Frame("one") + Frame("two") + Frame("three");
  client.Send(stream + Frame("never finished").substr(0, 6));
  client.ShutdownWrite();
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received().size() >= stream.size(); }));
  EXPECT_EQ(client.received(), stream);
  EXPECT_TRUE(RunWith(h, client, [&] { return client.eof(); }, absl::Seconds(2)))
      << "answered, but never closed";
  EXPECT_EQ(h.closed(), 1);
}

TEST(ConnectionTest, ClientClosingWithHalfAFrameIsClosedAtOnce) {
  ConnectionHarness h;
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("never finished").substr(0, 9));
  ASSERT_TRUE(RunWith(h, client, [&] { return h.incomplete_frame(c); }));
  client.ShutdownWrite();
  ASSERT_TRUE(RunWith(h, client, [&] { return h.freed() == 1; }));
  EXPECT_EQ(h.closed(), 1);
  ASSERT_TRUE(RunWith(h, client, [&] { return client.eof(); }));
  EXPECT_EQ(client.received(), "");
  EXPECT_EQ(h.stats().frames_in.value(), 0);
}

// Under ASan this also checks that the late answer touches nothing of the freed connection.

TEST(ConnectionTest, LateAnswerAfterCloseIsDiscarded) {
  Deferred d;
  ConnectionHarness h(Scripted(&d));
  int fd = -1;
  h.Open(&fd);
  Client client(fd);
  client.Send(Frame("defer"));
  ASSERT_TRUE(RunWith(h, client, [&] { return d.completions.size() == 1; }));
  client.Reset();
  ASSERT_TRUE(h.RunUntil([&] { return h.freed() == 1; }));
  EXPECT_EQ(h.stats().replies_discarded.value(), 0);

  d.completions[0].Finish("too late");
  ASSERT_TRUE(h.RunUntil([&] { return h.stats().replies_discarded.value() == 1; }));
  EXPECT_EQ(h.stats().frames_out.value(), 0);
}

TEST(ConnectionTest, CloseAnsweringAnswersAWaitingRequestWithTheError) {
  Deferred d;
  ConnectionHarness h(Scripted(&d));
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("defer"));
  ASSERT_TRUE(RunWith(h, client, [&] { return d.completions.size() == 1; }));
  c->CloseAnswering(absl::UnavailableError("shutting down"));
  EXPECT_EQ(h.closed(), 1);
  ASSERT_TRUE(RunWith(h, client, [&] { return client.eof(); }));

  protocol::FrameDecoder replies({.max_frame_bytes = 1 << 20, .allow_error_frames = true});
  replies.Feed(client.received());
  absl::StatusOr<std::optional<protocol::Frame>> reply = replies.Next();
  ASSERT_TRUE(reply.ok() && reply->has_value()) << "no complete reply";
  EXPECT_EQ((*reply)->kind, protocol::FrameKind::kError);
  const absl::Status status = protocol::StatusFromErrorPayload((*reply)->payload);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "shutting down");
  EXPECT_EQ(replies.buffered_bytes(), 0u);  // that one reply and nothing else

  // The handler's own answer, given afterwards, is discarded.
  d.completions[0].Finish("too late");
  ASSERT_TRUE(h.RunUntil([&] { return h.stats().replies_discarded.value() == 1; }));
}

TEST(ConnectionTest, DoneOnlyOnceNothingIsOwed) {
  Deferred d;
  ConnectionHarness h(Scripted(&d));
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  EXPECT_TRUE(c->Done());
  client.Send(Frame("defer"));
  ASSERT_TRUE(RunWith(h, client, [&] { return d.completions.size() == 1; }));
  EXPECT_FALSE(c->Done());
  d.completions[0].Finish("reply");
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received() == Frame("reply"); }));
  EXPECT_TRUE(c->Done());
}

// A frame of 2 MiB or more is reserved as address space and made resident as it arrives
// (protocol/frame_decoder.h); smaller ones are charged whole from their header on.

}  // namespace
}  // namespace server
