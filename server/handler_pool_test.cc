#include "server/handler_pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

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
    ASSERT_TRUE(pool.TryAcquire());
    pool.Run([&] {
      std::lock_guard<std::mutex> lock(mu);
      ++ran;
      done.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(done.wait_for(lock, std::chrono::seconds(10), [&] { return ran == 50; }));
}

TEST(HandlerPoolTest, RefusesPlacesBeyondItsBoundUntilOneIsFreed) {
  HandlerPool pool(1, 2);
  pool.Start();
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int finished = 0;
  auto blocked = [&] {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
    ++finished;
    cv.notify_all();
  };
  ASSERT_TRUE(pool.TryAcquire());
  pool.Run(blocked);  // running
  ASSERT_TRUE(pool.TryAcquire());
  pool.Run(blocked);  // queued
  EXPECT_FALSE(pool.TryAcquire()) << "a third place beyond max_tasks=2";
  EXPECT_EQ(pool.tasks(), 2);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return finished == 2; }));
  lock.unlock();
  pool.Stop();
  EXPECT_EQ(pool.tasks(), 0);
  EXPECT_FALSE(pool.TryAcquire() && (pool.Run([] {}), false));
}

TEST(HandlerPoolTest, StopDropsTasksNotStartedAndWaitsForRunningOnes) {
  HandlerPool pool(1, 10);
  pool.Start();
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, release = false;
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.TryAcquire());
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
  ASSERT_TRUE(pool.TryAcquire());
  pool.Run([&] { ++ran; });  // never starts: the only thread is busy until Stop
  std::thread stopper([&] { pool.Stop(); });
  // Stop() has dropped the queued task (its place is freed) before the running one may end.
  while (pool.tasks() != 1) std::this_thread::yield();
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  stopper.join();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(pool.tasks(), 0);
}

}  // namespace
}  // namespace server
