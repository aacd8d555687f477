#include "server/net/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "handlers/handler.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "server/net/testing/connection_harness.h"

namespace server {
namespace {

using testing::ConnectionHarness;
using testing::Frame;
using testing::ReadAvailable;
using testing::WriteAll;

// A bare header declaring `length`, with no payload.
std::string Header(uint32_t length) {
  char bytes[protocol::kHeaderBytes];
  protocol::WriteBigEndian32(length, bytes);
  return std::string(bytes, sizeof(bytes));
}

// The test's end of a connection. The loop runs on the test thread, so it never blocks: Send()
// queues bytes and Pump() (called from RunUntil conditions) moves what the socket takes now,
// out and (unless reading is off) in.
class Client {
 public:
  explicit Client(int fd) : fd_(fd) {}
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }

  void Send(absl::string_view bytes) {
    unsent_.append(bytes.data(), bytes.size());
    given_.append(bytes.data(), bytes.size());
    Pump();
  }
  void Pump() {
    while (!unsent_.empty()) {
      const ssize_t n = send(fd_, unsent_.data(), unsent_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0) break;
      unsent_.erase(0, n);
    }
    if (!reading_) return;
    char buffer[64 << 10];
    while (!eof_) {
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n > 0) {
        received_.append(buffer, n);
      } else if (n == 0 || errno != EAGAIN) {
        eof_ = true;  // the end, or a reset: nothing more will come either way
      } else {
        break;
      }
    }
  }
  void set_reading(bool reading) { reading_ = reading; }
  // Half-closes: the server sees the end of the stream after what was sent.
  void ShutdownWrite() { ASSERT_EQ(shutdown(fd_, SHUT_WR), 0); }
  // Closes with a reset (SO_LINGER 0) instead of a FIN.
  void Reset() {
    linger no_linger{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
    close(fd_);
    fd_ = -1;
  }

  int fd() const { return fd_; }
  bool all_sent() const { return unsent_.empty(); }
  size_t unsent() const { return unsent_.size(); }
  const std::string& given() const { return given_; }  // everything passed to Send()
  const std::string& received() const { return received_; }
  bool eof() const { return eof_; }

 private:
  int fd_;
  bool reading_ = true;
  bool eof_ = false;
  std::string unsent_;
  std::string given_;
  std::string received_;
};

// What the test keeps of the requests ScriptedHandler deferred.
struct Deferred {
  std::vector<std::string> requests;
  std::vector<handlers::Completion> completions;
};

// Answers by what a request says: one starting "defer" later, through a Completion kept in
// `Deferred` for the test to finish; one containing "close" asks to close after its reply;
// anything else is echoed at once.
class ScriptedHandler : public handlers::Handler {
 public:
  explicit ScriptedHandler(Deferred* deferred) : deferred_(deferred) {}
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    if (absl::StrContains(request, "close")) reply.CloseAfterReply();
    if (absl::StartsWith(request, "defer")) {
      deferred_->requests.emplace_back(request);
      deferred_->completions.push_back(reply.Defer());
      return absl::OkStatus();
    }
    reply.Append(request);
    return absl::OkStatus();
  }

 private:
  Deferred* const deferred_;
};

// Declare the Deferred before the harness: completions left unfinished then outlive the loop,
// and their abandonment is dropped with it.
ConnectionHarness::Options Scripted(Deferred* deferred, ConnectionHarness::Options options = {}) {
  options.factory = [deferred](const handlers::HandlerContext&) {
    return std::make_unique<ScriptedHandler>(deferred);
  };
  return options;
}

// Runs the loop until `done`, pumping the client's bytes both ways between turns.
bool RunWith(ConnectionHarness& h, Client& client, const std::function<bool()>& done,
         absl::Duration timeout = absl::Seconds(10)) {
  return h.RunUntil(
      [&] {
        client.Pump();
        return done();
      },
      timeout);
}

// Runs the loop for `window` and returns whether `happened` became true meanwhile: for what
// must not happen while the connection is not reading.
bool HappensWithin(ConnectionHarness& h, Client& client, const std::function<bool()>& happened,
                   absl::Duration window = absl::Milliseconds(100)) {
  return RunWith(h, client, happened, window);
}

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
  ASSERT_TRUE(RunWith(h, client, [&] { return d.completions.size() == 3; }));
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
