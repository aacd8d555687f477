// Gate: a one-way barrier for tests. Threads Wait() until the test Open()s it; once open it
// stays open. std::mutex and std::condition_variable, which ThreadSanitizer understands.
//
//   common::testing::Gate gate;
//   std::thread t([&] { gate.Wait(); ... });   // held
//   gate.Open();                               // let through, now and from now on
#ifndef COMMON_TESTING_GATE_H_
#define COMMON_TESTING_GATE_H_

#include <condition_variable>
#include <mutex>

namespace common::testing {

class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = false;
};

}  // namespace common::testing

#endif  // COMMON_TESTING_GATE_H_
