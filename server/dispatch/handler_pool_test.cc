#include "server/dispatch/handler_pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace server {
namespace {

TEST(HandlerPoolTest, RunsTasksOnItsThreads) {
  HandlerPool pool(2, 100);
  pool.Start();
  std::mutex mu;
  std::condition_variable done;
  int ran = 0;
  for (int i = 0; i < 50; ++i) {
    pool.Run([&] {
      std::lock_guard<std::mutex> lock(mu);
      ++ran;
      done.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(done.wait_for(lock, std::chrono::seconds(10), [&] { return ran == 50; }));
}

TEST(HandlerPoolTest, PlacesAreBoundedAndGivenBack) {
  HandlerPool pool(1, 2);
  ASSERT_TRUE(pool.TryAcquire());
  ASSERT_TRUE(pool.TryAcquire());
  EXPECT_FALSE(pool.TryAcquire()) << "a third place beyond max_places=2";
  EXPECT_EQ(pool.places(), 2);
  pool.Release();
  EXPECT_TRUE(pool.TryAcquire());
  EXPECT_EQ(pool.places(), 2);
}

TEST(HandlerPoolTest, StopDropsTasksNotStartedAndWaitsForRunningOnes) {
  HandlerPool pool(1, 10);
  pool.Start();
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, release = false;
  std::atomic<int> ran{0};
  std::atomic<bool> dropped{false};
  pool.Run([&] {
    std::unique_lock<std::mutex> lock(mu);
    started = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    ++ran;
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return started; });
  }
  // Never starts: the only thread is busy until Stop. Its destruction is seen through a guard.
  auto guard = std::shared_ptr<int>(new int(0), [&](int* p) {
    dropped = true;
    delete p;
  });
  pool.Run([&ran, guard] { ++ran; });
  guard.reset();
  std::thread stopper([&] { pool.Stop(); });
  while (!dropped) std::this_thread::yield();  // Stop() dropped the queued task first
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  stopper.join();
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace server
