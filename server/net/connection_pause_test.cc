// Connection's state machine, driven through a real loopback socket. Pauses: for output the client does not read, for requests still unanswered, for memory; and the resumes.
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

TEST(ConnectionTest, PausesOutputWhileTheClientDoesNotReadAndResumesWhenItReads) {
  ConnectionHarness h;
  constexpr size_t kMaxPending = 4096;
  h.set_max_pending_output(kMaxPending);
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.set_reading(false);
  int sent_frames = 0;
  ASSERT_TRUE(RunWith(h, client, [&] {
    if (client.unsent() < (64 << 10)) {
      client.Send(Frame(std::string(16 << 10, static_cast<char>('a' + sent_frames++ % 26))));
    }
    return c->state() == ConnectionState::kPausedOutput;
  }));
  // It stays paused until its output has drained completely, whatever is left of it now.
  EXPECT_GT(c->pending_output(), 0u);
  EXPECT_GE(h.stats().reads_paused.value(), 1);

  // Paused, it reads nothing more, however long the client's bytes wait.
  const int64_t bytes_in = h.stats().bytes_in.value();
  EXPECT_FALSE(HappensWithin(h, client, [&] { return h.stats().bytes_in.value() != bytes_in; }));
  EXPECT_EQ(c->state(), ConnectionState::kPausedOutput);

  client.set_reading(true);
  ASSERT_TRUE(RunWith(h, client, [&] {
    return client.all_sent() && client.received().size() >= client.given().size();
  }, absl::Seconds(30)));
  EXPECT_TRUE(client.received() == client.given()) << "replies differ from the requests";
  EXPECT_EQ(h.stats().frames_in.value(), sent_frames);
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
}

TEST(ConnectionTest, PausesWithMaxInflightUnansweredAndResumesWhenAnswered) {
  Deferred d;
  ConnectionHarness::Options options;
  options.max_inflight = 2;
  ConnectionHarness h(Scripted(&d, options));
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("defer1") + Frame("defer2") + Frame("defer3"));
  ASSERT_TRUE(RunWith(h, client, [&] { return c->state() == ConnectionState::kPausedInflight; }));
  EXPECT_EQ(d.completions.size(), 2u);
  EXPECT_EQ(h.stats().frames_in.value(), 2);
  EXPECT_EQ(client.received(), "");

  // One answered: below the bound again, it takes the third request and pauses again.
  d.completions[0].Finish("r1");
  // Both: the third request taken, and the first reply at the client, which may come after.
  ASSERT_TRUE(RunWith(h, client, [&] {
    return d.completions.size() == 3 && client.received().size() >= Frame("r1").size();
  }));
  EXPECT_EQ(client.received(), Frame("r1"));
  EXPECT_EQ(c->state(), ConnectionState::kPausedInflight);

  d.completions[1].Finish("r2");
  d.completions[2].Finish("r3");
  const std::string all = Frame("r1") + Frame("r2") + Frame("r3");
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received().size() >= all.size(); }));
  EXPECT_EQ(client.received(), all);
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
  EXPECT_EQ(d.requests, (std::vector<std::string>{"defer1", "defer2", "defer3"}));
}

TEST(ConnectionTest, AnswersFinishedOutOfOrderLeaveInRequestOrder) {
  Deferred d;
  ConnectionHarness h(Scripted(&d));
  int fd = -1;
  h.Open(&fd);
  Client client(fd);
  client.Send(Frame("defer1") + Frame("now") + Frame("defer2"));
  ASSERT_TRUE(RunWith(h, client, [&] { return d.completions.size() == 2; }));
  d.completions[1].Finish("second");
  // The answer to the first request still waits: nothing may overtake it.
  EXPECT_FALSE(HappensWithin(h, client, [&] { return !client.received().empty(); }));
  d.completions[0].Finish("first");
  const std::string all = Frame("first") + Frame("now") + Frame("second");
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received().size() >= all.size(); }));
  EXPECT_EQ(client.received(), all);
}

TEST(ConnectionTest, PauseForMemoryRefusesWithoutAPartialFrame) {
  ConnectionHarness h;
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  EXPECT_FALSE(c->PauseForMemory());
  EXPECT_EQ(c->state(), ConnectionState::kProbation);

  client.Send(Frame("hi"));
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received() == Frame("hi"); }));
  EXPECT_FALSE(c->PauseForMemory());
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
  EXPECT_EQ(h.stats().reads_paused_memory.value(), 0);
}

TEST(ConnectionTest, PausesForMemoryWithAPartialFrameAndResumesToProbation) {
  ConnectionHarness h;
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  const std::string frame = Frame("growing");
  client.Send(frame.substr(0, 7));
  ASSERT_TRUE(RunWith(h, client, [&] { return h.stats().bytes_in.value() == 7; }));
  ASSERT_TRUE(c->PauseForMemory());
  EXPECT_EQ(c->state(), ConnectionState::kPausedMemory);
  EXPECT_EQ(h.stats().reads_paused_memory.value(), 1);

  // The rest of the frame waits in the socket: not read, not answered.
  client.Send(frame.substr(7));
  EXPECT_FALSE(HappensWithin(h, client, [&] {
    return h.stats().bytes_in.value() != 7 || !client.received().empty();
  }));
  EXPECT_EQ(c->state(), ConnectionState::kPausedMemory);

  c->ResumeAfterMemory();
  EXPECT_EQ(c->state(), ConnectionState::kProbation);  // no frame was ever taken
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received().size() >= frame.size(); }));
  EXPECT_EQ(client.received(), frame);
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
}

// While the server does not read, the client's partial frame is not timed; once it reads
// again, it is.

TEST(ConnectionTest, TheFrameTimerStopsForAMemoryPauseAndRunsAgainAfterIt) {
  ConnectionHarness h;
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("partial").substr(0, 6));
  ASSERT_TRUE(RunWith(h, client, [&] { return h.incomplete_frame(c); }));
  ASSERT_TRUE(c->PauseForMemory());
  EXPECT_FALSE(h.incomplete_frame(c));
  c->ResumeAfterMemory();
  EXPECT_TRUE(h.incomplete_frame(c));
}

TEST(ConnectionTest, ResumesAfterMemoryToOpenOnceAFrameWasTaken) {
  ConnectionHarness h;
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("first"));
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received() == Frame("first"); }));
  const std::string frame = Frame("second");
  client.Send(frame.substr(0, 5));
  ASSERT_TRUE(RunWith(h, client, [&] { return h.incomplete_frame(c); }));
  ASSERT_TRUE(c->PauseForMemory());
  EXPECT_EQ(c->state(), ConnectionState::kPausedMemory);
  client.Send(frame.substr(5));
  EXPECT_FALSE(HappensWithin(h, client, [&] { return client.received() != Frame("first"); }));

  c->ResumeAfterMemory();
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received() == Frame("first") + frame; }));
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
}

}  // namespace
}  // namespace server
