// Helpers of systemd_e2e_test: a NOTIFY_SOCKET that records what the server tells systemd
// (with the time each message came), and loopback listening sockets a test holds as systemd's
// socket units do.
//
//   NotifyListener notify;                       // an abstract AF_UNIX datagram socket
//   ServerProcess s = ServerProcess::Spawn({.argv = {...}, .env = {notify.env()}}).value();
//   ASSERT_TRUE(notify.WaitFor("READY=1"));
#ifndef TESTS_SYSTEMD_TEST_UTIL_H_
#define TESTS_SYSTEMD_TEST_UTIL_H_

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/testing/loopback.h"

namespace tests {

class NotifyListener {
 public:
  struct Message {
    absl::Time at;
    std::string text;  // "READY=1\nSTATUS=...", "WATCHDOG=1", ...
  };

  NotifyListener();  // binds and starts receiving on a thread of its own
  ~NotifyListener();

  // NOTIFY_SOCKET=@name, for the child's environment.
  std::string env() const { return "NOTIFY_SOCKET=@" + name_; }
  // Waits up to `timeout` for a message containing `text` received after `after`; returns it.
  bool WaitFor(const std::string& text, absl::Duration timeout = absl::Seconds(20),
               absl::Time after = absl::InfinitePast(), Message* found = nullptr);
  // Everything received so far.
  std::vector<Message> messages() const;
  // The times of the messages that are exactly `text`.
  std::vector<absl::Time> Times(const std::string& text) const;

 private:
  void Receive();

  std::string name_;
  int fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
  std::thread thread_;
};

using common::testing::FreePort;
using common::testing::ListenOnLoopback;

}  // namespace tests

#endif  // TESTS_SYSTEMD_TEST_UTIL_H_
