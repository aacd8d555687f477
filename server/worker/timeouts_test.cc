#include "server/worker/timeouts.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/event_loop.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "handlers/echo/echo.h"
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
constexpr int64_t kIdleNs = 60 * kSecond;
constexpr int64_t kFrameNs = 10 * kSecond;
constexpr int64_t kT0 = 1000 * kSecond;  // the test's clock starts here

// Whether the client's end sees the end of the stream (waits at most 10 s for it).
bool SeesEnd(int fd) {
  timeval timeout{10, 0};
  CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
  char buffer[256];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) return true;
    if (n < 0) return false;
  }
}

// A worker reduced to its Timeouts: the connections report their traffic and frame progress
// to this fixture (their Host), which passes them on with the test's clock, `now_`; closed
// connections are freed at the end of each turn.
class TimeoutsTest : public ::testing::Test, public Connection::Host {
 protected:
  TimeoutsTest() {
    env_ = h_.env();
    env_.host = this;
    served_.factory = [](const handlers::HandlerContext&) {
      return std::make_unique<handlers::EchoHandler>();
    };
  }
  ~TimeoutsTest() override {
    for (int fd : clients_) close(fd);
  }

  // A new connection, adopted at now_ (its idle timer starts, as the worker's does).
  Connection* Open(int* client) {
    const auto [server_end, client_end] = LoopbackPair();
    *client = client_end;
    clients_.push_back(client_end);
    Connection* c =
        set_.Add(std::make_unique<Connection>(server_end, next_id_++, &served_, &env_));
    timeouts_.Touch(c, now_);
    c->Start();
    return c;
  }

  bool RunUntil(const std::function<bool()>& done) {
    return h_.RunUntil([&] {
      set_.FreeClosed();
      return done();
    });
  }

  // Sends `frame` and runs until its echo is back.
  bool Exchange(int client, const std::string& payload) {
    if (!WriteAll(client, Frame(payload))) return false;
    std::string got;
    return RunUntil([&] {
      got += ReadAvailable(client);
      return got.size() >= Frame(payload).size();
    });
  }

  // Connection::Host.
  void ContinueAfterTurn(Connection* c) override { h_.ContinueAfterTurn(c); }
  void OnActivity(Connection* c) override { timeouts_.Touch(c, now_); }
  void OnFrameProgress(Connection* c, bool incomplete, bool started) override {
    timeouts_.FrameProgress(c, incomplete, started, now_);
  }
  void OnHeldBytesChanged(Connection*) override {}
  size_t MaxPendingOutput(const Connection&) const override { return 4 << 20; }
  void OnClosed(Connection* c) override {
    Timeouts::Forget(c);
    c->hooks().ready.Unlink();
    set_.Remove(c);
  }

  WorkerStats& stats() { return h_.stats(); }

  ConnectionHarness h_;
  Connection::Env env_;
  ServedHandler served_;
  common::LogLimiter log_{10};
  Timeouts timeouts_{absl::Nanoseconds(kIdleNs), absl::Nanoseconds(kFrameNs), &h_.stats(), &log_};
  int64_t now_ = kT0;
  std::vector<int> clients_;
  uint64_t next_id_ = 1;
  ConnectionSet set_;  // last: its connections go before what they use
};

TEST_F(TimeoutsTest, TheIdleTimerClosesASilentConnectionAfterTheTimeout) {
  int client = -1;
  Connection* c = Open(&client);
  timeouts_.Expire(kT0 + kIdleNs - 1);
  EXPECT_FALSE(c->closed());
  EXPECT_EQ(stats().closed_idle_timeout.value(), 0);

  timeouts_.Expire(kT0 + kIdleNs);
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(stats().closed_idle_timeout.value(), 1);
  EXPECT_EQ(stats().closed_frame_timeout.value(), 0);
  EXPECT_TRUE(SeesEnd(client));
  EXPECT_EQ(timeouts_.NextDeadlineNs(), common::EventLoop::kNoDeadline);
}

TEST_F(TimeoutsTest, TrafficPostponesTheIdleTimer) {
  int client = -1;
  Connection* c = Open(&client);
  now_ = kT0 + kIdleNs / 2;
  ASSERT_TRUE(Exchange(client, "still here"));  // the connection reports it: Touch at now_

  timeouts_.Expire(kT0 + kIdleNs);
  EXPECT_FALSE(c->closed());
  EXPECT_EQ(stats().closed_idle_timeout.value(), 0);
  timeouts_.Expire(now_ + kIdleNs - 1);
  EXPECT_FALSE(c->closed());

  timeouts_.Expire(now_ + kIdleNs);
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(stats().closed_idle_timeout.value(), 1);
}

TEST_F(TimeoutsTest, TheFrameTimerClosesAConnectionWithAnIncompleteFrame) {
  int client = -1;
  Connection* c = Open(&client);
  now_ = kT0 + kSecond;
  const std::string frame = Frame("a frame sent in part");
  ASSERT_TRUE(WriteAll(client, frame.substr(0, 8)));
  ASSERT_TRUE(RunUntil([&] { return c->hooks().frame.linked(); }));

  timeouts_.Expire(now_ + kFrameNs - 1);
  EXPECT_FALSE(c->closed());
  timeouts_.Expire(now_ + kFrameNs);
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(stats().closed_frame_timeout.value(), 1);
  EXPECT_EQ(stats().closed_idle_timeout.value(), 0);  // its idle timer was far from done
  EXPECT_TRUE(SeesEnd(client));
}

TEST_F(TimeoutsTest, BytesTrickledIntoTheSameFrameDoNotRestartTheFrameTimer) {
  int client = -1;
  Connection* c = Open(&client);
  const int64_t started = kT0 + kSecond;
  now_ = started;
  const std::string frame = Frame("a frame sent byte by byte");
  ASSERT_TRUE(WriteAll(client, frame.substr(0, 6)));
  ASSERT_TRUE(RunUntil([&] { return c->hooks().frame.linked(); }));
  now_ = started + kFrameNs / 2;
  ASSERT_TRUE(WriteAll(client, frame.substr(6, 1)));
  ASSERT_TRUE(RunUntil([&] { return c->hooks().idle.started() == now_; }));  // it was read
  EXPECT_TRUE(c->hooks().frame.linked());
  EXPECT_EQ(c->hooks().frame.started(), started);

  timeouts_.Expire(started + kFrameNs);
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(stats().closed_frame_timeout.value(), 1);
}

TEST_F(TimeoutsTest, CompletingTheFrameStopsTheFrameTimer) {
  int client = -1;
  Connection* c = Open(&client);
  const int64_t started = kT0 + kSecond;
  now_ = started;
  const std::string frame = Frame("a frame sent in two parts");
  ASSERT_TRUE(WriteAll(client, frame.substr(0, 8)));
  ASSERT_TRUE(RunUntil([&] { return c->hooks().frame.linked(); }));

  now_ = started + kSecond;
  ASSERT_TRUE(WriteAll(client, frame.substr(8)));
  std::string got;
  ASSERT_TRUE(RunUntil([&] {
    got += ReadAvailable(client);
    return got.size() >= frame.size();
  }));
  EXPECT_EQ(got, frame);
  EXPECT_FALSE(c->hooks().frame.linked());  // FrameProgress(incomplete=false)

  timeouts_.Expire(started + kFrameNs);
  EXPECT_FALSE(c->closed());
  EXPECT_EQ(stats().closed_frame_timeout.value(), 0);
}

TEST_F(TimeoutsTest, FrameProgressWithoutAnIncompleteFrameStopsTheTimer) {
  int client = -1;
  Connection* c = Open(&client);
  timeouts_.FrameProgress(c, /*incomplete=*/true, /*started=*/true, kT0);
  EXPECT_EQ(timeouts_.NextDeadlineNs(), kT0 + kFrameNs);
  timeouts_.FrameProgress(c, /*incomplete=*/false, /*started=*/false, kT0 + kSecond);
  EXPECT_EQ(timeouts_.NextDeadlineNs(), kT0 + kIdleNs);
  timeouts_.Expire(kT0 + kFrameNs);
  EXPECT_FALSE(c->closed());
}

TEST_F(TimeoutsTest, NextDeadlineIsTheOldestTimersDeadline) {
  EXPECT_EQ(timeouts_.NextDeadlineNs(), common::EventLoop::kNoDeadline);
  int client_a = -1, client_b = -1;
  Connection* a = Open(&client_a);  // idle from kT0
  now_ = kT0 + 5 * kSecond;
  Connection* b = Open(&client_b);  // idle from kT0 + 5 s
  EXPECT_EQ(timeouts_.NextDeadlineNs(), kT0 + kIdleNs);

  // b starts a frame at kT0 + 6 s: its frame timer runs out first.
  now_ = kT0 + 6 * kSecond;
  const std::string frame = Frame("in two parts");
  ASSERT_TRUE(WriteAll(client_b, frame.substr(0, 6)));
  ASSERT_TRUE(RunUntil([&] { return b->hooks().frame.linked(); }));
  EXPECT_EQ(timeouts_.NextDeadlineNs(), kT0 + 6 * kSecond + kFrameNs);

  // a's traffic makes b's idle timer the oldest (b's read at kT0 + 6 s restarted it).
  timeouts_.Touch(a, kT0 + 30 * kSecond);
  timeouts_.FrameProgress(b, /*incomplete=*/false, /*started=*/false, now_);
  EXPECT_EQ(timeouts_.NextDeadlineNs(), kT0 + 6 * kSecond + kIdleNs);

  b->Close();  // forgotten: a's is the only timer left
  EXPECT_EQ(timeouts_.NextDeadlineNs(), kT0 + 30 * kSecond + kIdleNs);
}

}  // namespace
}  // namespace server
