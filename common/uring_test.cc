#include "common/uring.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace common {
namespace {

// One end of a socket pair, recording what the ring delivers for it.
class RecordingSocket : public Uring::Socket {
 public:
  void OnReceived(absl::string_view data) override { received.append(data.data(), data.size()); }
  void OnReceiveStopped(int result) override { stops.push_back(result); }
  bool PrepareSend(const msghdr** message) override {
    if (to_send.empty()) return false;
    iov_.iov_base = to_send.data();
    iov_.iov_len = to_send.size();
    message_.msg_iov = &iov_;
    message_.msg_iovlen = 1;
    *message = &message_;
    return true;
  }
  void OnSent(int result) override { sent.push_back(result); }

  std::string received;
  std::vector<int> stops;
  std::string to_send;
  std::vector<int> sent;

 private:
  iovec iov_{};
  msghdr message_{};
};

class UringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Uring>> uring = Uring::Create();
    // The same check and words as tests/io_backend_test.cc.
    if (!uring.ok()) GTEST_SKIP() << "io_uring unavailable here: " << uring.status();
    uring_ = *std::move(uring);
    ASSERT_TRUE(uring_->Enable().ok());
  }

  // Runs turns until `done` or 100 turns of at most 100 ms.
  template <typename Done>
  bool TurnUntil(Done done) {
    for (int turn = 0; turn < 100 && !done(); ++turn) {
      uring_->SubmitAndWait(100);
      uring_->Dispatch();
    }
    return done();
  }

  static void SocketPair(int fds[2]) {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  }

  std::unique_ptr<Uring> uring_;
};

TEST_F(UringTest, OneArmedReceiveBringsEveryChunkUntilTheEndOfTheStream) {
  int fds[2];
  SocketPair(fds);
  RecordingSocket socket;
  uring_->StartReceive(fds[0], &socket);
  ASSERT_EQ(write(fds[1], "hello ", 6), 6);
  ASSERT_TRUE(TurnUntil([&] { return socket.received == "hello "; }));
  ASSERT_EQ(write(fds[1], "world", 5), 5);  // no new receive was armed
  ASSERT_TRUE(TurnUntil([&] { return socket.received == "hello world"; }));
  EXPECT_TRUE(socket.stops.empty()) << "the receive is still armed";
  close(fds[1]);
  ASSERT_TRUE(TurnUntil([&] { return !socket.stops.empty(); }));
  EXPECT_EQ(socket.stops, std::vector<int>{0}) << "end of stream";
  close(fds[0]);
}

TEST_F(UringTest, StoppedReceiveEndsCancelledAndLeavesLaterBytesInTheSocket) {
  int fds[2];
  SocketPair(fds);
  RecordingSocket socket;
  uring_->StartReceive(fds[0], &socket);
  ASSERT_TRUE(TurnUntil([&] { return true; }));
  uring_->StopReceive(&socket);
  ASSERT_TRUE(TurnUntil([&] { return !socket.stops.empty(); }));
  EXPECT_EQ(socket.stops, std::vector<int>{-ECANCELED});
  ASSERT_EQ(write(fds[1], "later", 5), 5);
  uring_->SubmitAndWait(50);
  uring_->Dispatch();
  EXPECT_EQ(socket.received, "");
  char buffer[8];
  EXPECT_EQ(read(fds[0], buffer, sizeof(buffer)), 5) << "the bytes wait in the socket";
  close(fds[0]);
  close(fds[1]);
}

TEST_F(UringTest, QueuedSendIsDescribedAtSubmissionAndReportsItsBytes) {
  int fds[2];
  SocketPair(fds);
  RecordingSocket socket;
  uring_->QueueSend(fds[0], &socket);
  socket.to_send = "described late";  // after QueueSend: what counts is the state at submission
  ASSERT_TRUE(TurnUntil([&] { return !socket.sent.empty(); }));
  EXPECT_EQ(socket.sent, std::vector<int>{14});
  char buffer[32];
  EXPECT_EQ(std::string(buffer, read(fds[1], buffer, sizeof(buffer))), "described late");
  close(fds[0]);
  close(fds[1]);
}

TEST_F(UringTest, CancelledSendNoLongerReadsItsMemoryWhenCancelSendReturns) {
  int fds[2];
  SocketPair(fds);
  // Fill the peer's socket so that the send waits in the kernel.
  const std::string filler(64 << 10, 'f');
  int64_t filled = 0;
  for (ssize_t n; (n = write(fds[0], filler.data(), filler.size())) > 0;) filled += n;
  ASSERT_EQ(errno, EAGAIN);
  RecordingSocket socket;
  socket.to_send = std::string(256 << 10, 's');
  uring_->QueueSend(fds[0], &socket);
  uring_->SubmitAndWait(0);
  uring_->Dispatch();
  ASSERT_TRUE(socket.sent.empty()) << "the send completed with the socket full";
  ASSERT_TRUE(uring_->CancelSend(&socket)) << "the send was not cancelled at once";
  // The memory is the caller's again: overwritten, then the peer makes room. A send still
  // waiting (a cancellation only queued) would now go on, with the overwritten bytes.
  socket.to_send.assign(socket.to_send.size(), 'X');
  std::string peer;
  char buffer[64 << 10];
  auto drain = [&] {
    for (ssize_t n; (n = read(fds[1], buffer, sizeof(buffer))) > 0;) peer.append(buffer, n);
  };
  drain();
  ASSERT_TRUE(TurnUntil([&] { return !socket.sent.empty(); }));
  EXPECT_EQ(socket.sent, std::vector<int>{-ECANCELED});
  drain();
  EXPECT_EQ(peer.size(), filled);
  EXPECT_EQ(peer.find('X'), std::string::npos) << "the kernel read the memory after CancelSend";
  close(fds[0]);
  close(fds[1]);
}

TEST_F(UringTest, ReceivesOutOfBuffersStopWithEnobufsAndLoseNothingWhenArmedAgain) {
  // More sockets with data than the ring has buffers, all completed in one turn.
  constexpr int kSockets = Uring::kBufferCount + 64;
  std::vector<std::array<int, 2>> pairs(kSockets);
  std::vector<RecordingSocket> sockets(kSockets);
  for (int i = 0; i < kSockets; ++i) {
    SocketPair(pairs[i].data());
    const std::string message = absl::StrCat("message ", i);
    ASSERT_EQ(write(pairs[i][1], message.data(), message.size()), message.size());
  }
  // The ring's buffers go back only after a Dispatch, so one turn that completes every
  // receive runs out of them.
  for (int i = 0; i < kSockets; ++i) uring_->StartReceive(pairs[i][0], &sockets[i]);
  auto all_received = [&] {
    for (int i = 0; i < kSockets; ++i) {
      if (sockets[i].received != absl::StrCat("message ", i)) return false;
    }
    return true;
  };
  ASSERT_TRUE(TurnUntil([&] {
    for (int i = 0; i < kSockets; ++i) {  // what a connection does: arm again
      if (!sockets[i].stops.empty()) {
        EXPECT_EQ(sockets[i].stops.back(), -ENOBUFS);
        sockets[i].stops.clear();
        uring_->StartReceive(pairs[i][0], &sockets[i]);
      }
    }
    return all_received();
  }));
  EXPECT_GT(uring_->no_buffer_stops(), 0u);
  for (auto& pair : pairs) {
    close(pair[0]);
    close(pair[1]);
  }
}

TEST_F(UringTest, WatchedEventfdCallsItsWatcherOnEveryWakeUp) {
  class Counter : public Watcher {
   public:
    explicit Counter(int fd) : fd_(fd) {}
    void OnEvents(uint32_t events) override {
      EXPECT_TRUE(events & EPOLLIN);
      uint64_t value;
      ASSERT_EQ(read(fd_, &value, sizeof(value)), 8);
      ++calls;
    }
    int fd_;
    int calls = 0;
  };
  const int fd = eventfd(0, EFD_NONBLOCK);
  Counter counter(fd);
  uring_->WatchReadable(fd, &counter, /*multishot=*/true);
  for (int wake = 1; wake <= 3; ++wake) {
    const uint64_t one = 1;
    ASSERT_EQ(write(fd, &one, sizeof(one)), 8);
    ASSERT_TRUE(TurnUntil([&] { return counter.calls == wake; })) << "wake-up " << wake;
  }
  close(fd);
}

}  // namespace
}  // namespace common
