#include "server/worker/drainer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "common/event_loop.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "server/net/testing/connection_harness.h"
#include "server/worker/connection_set.h"

namespace server {
namespace {

using testing::ConnectionHarness;
using testing::LoopbackPair;
using testing::Frame;
using testing::ReadAvailable;
using testing::WriteAll;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1000 * kSecond;          // the test's clock
constexpr int64_t kDeadline = kT0 + 5 * kSecond;  // the end of the grace period

// What the client's end receives until the end of the stream (waiting at most 10 s for it),
// then "<end>"; "<no end>" if it did not come.
std::string ReadToEnd(int fd) {
  timeval timeout{10, 0};
  CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
  std::string got;
  char buffer[4096];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) return got + "<end>";
    if (n < 0) return got + "<no end>";
    got.append(buffer, n);
  }
}

// The frames of `bytes`, an error frame as "!" and its payload.
std::vector<std::string> Decode(absl::string_view bytes) {
  protocol::FrameDecoder decoder({.max_frame_bytes = 1 << 20, .allow_error_frames = true});
  decoder.Feed(bytes);
  std::vector<std::string> frames;
  while (true) {
    absl::StatusOr<std::optional<protocol::Frame>> frame = decoder.Next();
    if (!frame.ok() || !frame->has_value()) return frames;
    frames.push_back(((*frame)->kind == protocol::FrameKind::kError ? "!" : "") +
                     std::string((*frame)->payload));
  }
}

// Answers "later" through Reply::Defer() (the completion goes to `completions`), anything else
// inline.
class LaterOrEcho : public handlers::Handler {
 public:
  explicit LaterOrEcho(std::vector<handlers::Completion>* completions)
      : completions_(completions) {}
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    if (request == "later") {
      completions_->push_back(reply.Defer());
    } else {
      reply.Append(request);
    }
    return absl::OkStatus();
  }

 private:
  std::vector<handlers::Completion>* const completions_;
};

// A worker reduced to its Drainer: this fixture is the connections' Host and gives closed ones
// to the set; the test calls OnTurnEnd with its own clock. Closed connections are kept (not
// freed) until the test ends, so that the test may look at them.
class DrainerTest : public ::testing::Test, public Connection::Host {
 protected:
  DrainerTest() {
    env_ = h_.env();
    env_.host = this;
    served_.factory = [this](const handlers::HandlerContext&) {
      return std::make_unique<LaterOrEcho>(&completions_);
    };
  }
  ~DrainerTest() override {
    for (int fd : clients_) close(fd);
  }

  // `server_fd`, if given, receives the server's end (owned by the connection).
  Connection* Open(int* client, int* server_fd = nullptr) {
    const auto [server_end, client_end] = LoopbackPair();
    *client = client_end;
    if (server_fd != nullptr) *server_fd = server_end;
    clients_.push_back(client_end);
    Connection* c =
        set_.Add(std::make_unique<Connection>(server_end, next_id_++, &served_, &env_));
    c->Start();
    return c;
  }

  // Sends a frame of `payload` and runs until it is answered ("later": until it is deferred).
  void Request(int client, const std::string& payload) {
    const size_t deferred = completions_.size();
    ASSERT_TRUE(WriteAll(client, Frame(payload)));
    std::string got;
    ASSERT_TRUE(h_.RunUntil([&] {
      if (payload == "later") return completions_.size() > deferred;
      got += ReadAvailable(client);
      return got.size() >= Frame(payload).size();
    }));
  }

  void FinishElsewhere(size_t i, std::string payload) {
    std::thread t([&] { completions_[i].Finish(std::move(payload)); });
    t.join();
  }

  // Connection::Host.
  void ContinueAfterTurn(Connection* c) override { h_.ContinueAfterTurn(c); }
  void OnActivity(Connection*) override {}
  void OnFrameProgress(Connection*, bool, bool) override {}
  void OnHeldBytesChanged(Connection*) override {}
  size_t MaxPendingOutput(const Connection&) const override { return 4 << 20; }
  void OnClosed(Connection* c) override {
    c->hooks().ready.Unlink();
    set_.Remove(c);
  }

  ConnectionHarness h_;
  Connection::Env env_;
  ServedHandler served_;
  std::vector<handlers::Completion> completions_;
  std::vector<int> clients_;
  uint64_t next_id_ = 1;
  ConnectionSet set_;  // its connections go before what they use
  Drainer drainer_{0, &set_};
};

TEST_F(DrainerTest, NothingClosesBeforeBegin) {
  int client = -1;
  Connection* c = Open(&client);
  Request(client, "hello");  // it owes nothing now
  drainer_.OnTurnEnd(kT0);
  drainer_.OnTurnEnd(kDeadline + kSecond);
  EXPECT_FALSE(c->closed());
  EXPECT_FALSE(drainer_.draining());
  EXPECT_EQ(drainer_.NextDeadlineNs(), common::EventLoop::kNoDeadline);
}

TEST_F(DrainerTest, AfterBeginAConnectionThatOwesNothingClosesAtTheNextTurnEnd) {
  int client = -1;
  Connection* c = Open(&client);
  Request(client, "hello");
  drainer_.Begin(kDeadline);
  EXPECT_TRUE(drainer_.draining());
  EXPECT_EQ(drainer_.NextDeadlineNs(), kDeadline);
  EXPECT_FALSE(c->closed());  // not at once: only at the end of the turn

  drainer_.OnTurnEnd(kT0);
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(set_.size(), 0u);
  EXPECT_EQ(ReadToEnd(client), "<end>");
}

TEST_F(DrainerTest, AConnectionOwedADeferredReplyStaysOpenUntilItIsAnswered) {
  int owed_client = -1, idle_client = -1;
  Connection* owed = Open(&owed_client);
  Connection* idle = Open(&idle_client);
  Request(owed_client, "later");
  drainer_.Begin(kDeadline);
  drainer_.OnTurnEnd(kT0);
  EXPECT_TRUE(idle->closed());
  EXPECT_FALSE(owed->closed());
  drainer_.OnTurnEnd(kT0 + kSecond);
  EXPECT_FALSE(owed->closed());

  FinishElsewhere(0, "answer");
  ASSERT_TRUE(h_.RunUntil([&] {
    drainer_.OnTurnEnd(kT0 + 2 * kSecond);  // the end of each turn, as the worker's
    return owed->closed();
  }));
  EXPECT_EQ(ReadToEnd(owed_client), Frame("answer") + "<end>");  // answered, then closed
  EXPECT_TRUE(set_.Snapshot().empty());
}

TEST_F(DrainerTest, ARequestStillInTheSocketIsAnsweredBeforeTheConnectionCloses) {
  int client = -1, server_end = -1;
  Connection* c = Open(&client, &server_end);
  Request(client, "hello");
  drainer_.Begin(kDeadline);
  ASSERT_TRUE(WriteAll(client, Frame("last words")));  // not read by the loop yet
  // In the server end's socket: send() returning does not promise that they are there yet,
  // and a connection with nothing to read is done.
  pollfd readable{server_end, POLLIN, 0};
  ASSERT_EQ(poll(&readable, 1, 5000), 1) << "the request never reached the server's end";
  drainer_.OnTurnEnd(kT0);
  EXPECT_FALSE(c->closed());

  ASSERT_TRUE(h_.RunUntil([&] {
    drainer_.OnTurnEnd(kT0);
    return c->closed();
  }));
  EXPECT_EQ(ReadToEnd(client), Frame("last words") + "<end>");
}

TEST_F(DrainerTest, AtTheDeadlineAllCloseAndAWaitingRequestIsAnsweredUnavailableFirst) {
  int waiting_client = -1, partial_client = -1;
  Connection* waiting = Open(&waiting_client);
  Connection* partial = Open(&partial_client);
  Request(waiting_client, "later");
  const int64_t read_before = h_.stats().bytes_in.value();
  ASSERT_TRUE(WriteAll(partial_client, Frame("never finished").substr(0, 6)));
  ASSERT_TRUE(h_.RunUntil([&] { return h_.stats().bytes_in.value() == read_before + 6; }));
  drainer_.Begin(kDeadline);

  drainer_.OnTurnEnd(kDeadline - 1);  // both still owe something
  EXPECT_FALSE(waiting->closed());
  EXPECT_FALSE(partial->closed());

  drainer_.OnTurnEnd(kDeadline);
  EXPECT_TRUE(waiting->closed());
  EXPECT_TRUE(partial->closed());
  EXPECT_EQ(set_.size(), 0u);
  const std::string got = ReadToEnd(waiting_client);
  ASSERT_TRUE(absl::EndsWith(got, "<end>")) << got;
  const std::vector<std::string> replies = Decode(absl::string_view(got).substr(0, got.size() - 5));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(replies[0], "!UNAVAILABLE: ")) << replies[0];
  EXPECT_EQ(ReadToEnd(partial_client), "<end>");

  // The handler's own answer, after the connection closed, is discarded.
  FinishElsewhere(0, "too late");
  ASSERT_TRUE(h_.RunUntil([&] { return h_.stats().replies_discarded.value() == 1; }));
}

}  // namespace
}  // namespace server
