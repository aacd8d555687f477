#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/testing/loopback.h"
#include "gtest/gtest.h"
#include "server/service/activation.h"
#include "server/service/watchdog.h"

namespace service {
namespace {

int ListeningSocket() {
  int port;
  const int fd = common::testing::ListenOnLoopback(&port, /*backlog=*/4);
  EXPECT_GE(fd, 0);
  return fd;
}

class ActivationTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (int fd : {a_, b_}) close(fd);
  }
  const int a_ = ListeningSocket();
  const int b_ = ListeningSocket();
};

TEST_F(ActivationTest, TakesSocketsByName) {
  absl::StatusOr<ActivatedSockets> s = SortActivatedSockets({{a_, "admin"}, {b_, "data"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->active());
  EXPECT_EQ(s->data, b_);
  EXPECT_EQ(s->admin, a_);
  EXPECT_EQ(s->stats, -1);
}

TEST_F(ActivationTest, NoSocketsIsNotActive) {
  absl::StatusOr<ActivatedSockets> s = SortActivatedSockets({});
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->active());
}

TEST_F(ActivationTest, RefusesWhatItCannotPlaceNamingIt) {
  // An unnamed socket: systemd calls it "unknown".
  absl::Status unnamed = SortActivatedSockets({{a_, "unknown"}}).status();
  EXPECT_NE(unnamed.message().find("named 'unknown'"), std::string::npos) << unnamed;
  absl::Status unexpected = SortActivatedSockets({{a_, "data"}, {b_, "metrics"}}).status();
  EXPECT_NE(unexpected.message().find("named 'metrics'"), std::string::npos) << unexpected;
  absl::Status twice = SortActivatedSockets({{a_, "data"}, {b_, "data"}}).status();
  EXPECT_NE(twice.message().find("a second socket"), std::string::npos) << twice;
  absl::Status no_data = SortActivatedSockets({{a_, "stats"}}).status();
  EXPECT_NE(no_data.message().find("no socket named data"), std::string::npos) << no_data;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  absl::Status not_socket = SortActivatedSockets({{pipe_fds[0], "data"}}).status();
  EXPECT_NE(not_socket.message().find("not a listening stream socket"), std::string::npos)
      << not_socket;
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

// A fake loop: it turns when woken, unless stuck.
struct FakeLoop {
  std::atomic<bool> stuck{false};
  std::atomic<int64_t> turn_ns{0};
  std::atomic<int> pings{0};
  void Wake() {
    if (!stuck) turn_ns = common::MonotonicNanos();
  }
};

TEST(WatchdogTest, PingsWhileTheLoopTurnsAndStopsWhileItIsStuck) {
  FakeLoop loop;
  Watchdog dog(
      absl::Milliseconds(10), [&] { loop.Wake(); }, [&] { return loop.turn_ns.load(); },
      [&] { ++loop.pings; });
  dog.Start();
  auto wait_for = [](const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!done() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    return done();
  };
  ASSERT_TRUE(wait_for([&] { return loop.pings >= 3; }));
  loop.stuck = true;
  // A round that began before the loop got stuck may still ping once; none after.
  ASSERT_TRUE(wait_for([&] { return dog.missed() >= 1; }));
  const int pings_while_stuck = loop.pings;
  ASSERT_TRUE(wait_for([&] { return dog.missed() >= 5; }));
  EXPECT_EQ(loop.pings, pings_while_stuck);
  loop.stuck = false;
  ASSERT_TRUE(wait_for([&] { return loop.pings >= pings_while_stuck + 3; }));
  dog.Stop();
  const int after_stop = loop.pings;
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(loop.pings, after_stop);
}

TEST(WatchdogTest, ZeroPeriodStartsNothing) {
  std::atomic<int> woken{0};
  Watchdog dog(absl::ZeroDuration(), [&] { ++woken; }, [] { return int64_t{0}; }, [] {});
  dog.Start();
  dog.Stop();
  EXPECT_EQ(woken, 0);
}

}  // namespace
}  // namespace service
