#include "common/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/clock.h"
#include "gtest/gtest.h"

namespace common {
namespace {

// Both backends behave alike: tasks, watchers of the epoll set, and deadlines.
class EventLoopTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop.Init(GetParam()).ok());
    if (loop.backend() != GetParam()) GTEST_SKIP() << "io_uring unavailable here";
  }
  EventLoop loop;
};

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest,
                         ::testing::Values(IoBackend::kEpoll, IoBackend::kIoUring),
                         [](const ::testing::TestParamInfo<IoBackend>& info) {
                           return std::string(IoBackendName(info.param));
                         });

TEST_P(EventLoopTest, RunsTasksPostedFromOtherThreadsOnItsOwnThread) {
  std::thread::id loop_thread;
  int ran = 0;  // touched only on the loop thread
  std::thread runner([&] {
    loop_thread = std::this_thread::get_id();
    loop.Run([](int64_t, int) { return EventLoop::kNoDeadline; });
  });
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(loop.Post([&] {
      EXPECT_TRUE(loop.IsInLoopThread());
      if (++ran == 100) loop.Quit();
    }));
  }
  runner.join();
  EXPECT_EQ(ran, 100);
  EXPECT_FALSE(loop.Post([] {})) << "a stopped loop takes no task";
}

TEST_P(EventLoopTest, CallsWatchersAndWakesAtTheTurnsDeadline) {
  class Reader : public Watcher {
   public:
    explicit Reader(int fd) : fd_(fd) {}
    void OnEvents(uint32_t events) override {
      uint64_t value;
      ASSERT_EQ(read(fd_, &value, sizeof(value)), 8);
      seen += value;
    }
    int fd_;
    uint64_t seen = 0;
  };
  const int fd = eventfd(0, EFD_NONBLOCK);
  Reader reader(fd);
  ASSERT_TRUE(loop.poller().Set(fd, EPOLLIN, &reader, false).ok());
  const uint64_t seven = 7;
  ASSERT_EQ(write(fd, &seven, sizeof(seven)), 8);
  const int64_t start = MonotonicNanos();
  int turns = 0;
  loop.Run([&](int64_t now_ns, int) -> int64_t {
    ++turns;
    if (now_ns - start >= 50'000'000) {
      loop.Quit();
      return EventLoop::kNoDeadline;
    }
    return start + 50'000'000;  // a timer 50 ms after the start
  });
  EXPECT_EQ(reader.seen, 7u);
  EXPECT_GE(MonotonicNanos() - start, 50'000'000);
  EXPECT_LE(turns, 5) << "waiting for a deadline must not spin";
  close(fd);
}

}  // namespace
}  // namespace common
