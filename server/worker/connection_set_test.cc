#include "server/worker/connection_set.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "glog/logging.h"
#include "gtest/gtest.h"
#include "handlers/echo/echo.h"
#include "server/net/testing/connection_harness.h"

namespace server {
namespace {

using testing::ConnectionHarness;
using testing::LoopbackPair;
using testing::Frame;
using testing::ReadAvailable;
using testing::WriteAll;

// An echo handler that counts its instances' destruction: the "connection closed" notice a
// freed connection gives its handler.
class CountedEcho : public handlers::EchoHandler {
 public:
  explicit CountedEcho(int* destroyed) : destroyed_(destroyed) {}
  ~CountedEcho() override { ++*destroyed_; }

 private:
  int* const destroyed_;
};

ConnectionHarness::Options OnIoUring() {
  ConnectionHarness::Options options;
  options.io = common::IoBackend::kIoUring;
  return options;
}

// A worker reduced to its ConnectionSet: the harness lends its loop, transports and session
// services; this fixture is the connections' Host and gives closed ones to the set, as the
// worker does. FreeClosed() is the test's to call.
class ConnectionSetTest : public ::testing::Test, public Connection::Host {
 protected:
  explicit ConnectionSetTest(ConnectionHarness::Options options = {}) : h_(std::move(options)) {
    env_ = h_.env();
    env_.host = this;
    served_.factory = [this](const handlers::HandlerContext&) {
      return std::make_unique<CountedEcho>(&handlers_destroyed_);
    };
  }
  ~ConnectionSetTest() override {
    for (int fd : clients_) close(fd);
  }

  // A new connection in the set (started), and in `*client` the test's end of it. `server_fd`
  // is shaped by `before_start` first, if given.
  Connection* Open(int* client, void (*before_start)(int server_fd, int client_fd) = nullptr) {
    const auto [server_end, client_end] = LoopbackPair();
    if (before_start != nullptr) before_start(server_end, client_end);
    *client = client_end;
    clients_.push_back(client_end);
    Connection* c =
        set_.Add(std::make_unique<Connection>(server_end, next_id_++, &served_, &env_));
    c->Start();
    return c;
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
  int handlers_destroyed_ = 0;
  std::vector<int> clients_;
  uint64_t next_id_ = 1;
  ConnectionSet set_;  // last: its connections go before what they use
};

TEST_F(ConnectionSetTest, RemoveDoesNotFreeBeforeFreeClosed) {
  int client = -1;
  Connection* c = Open(&client);
  EXPECT_EQ(set_.size(), 1u);
  c->Close();  // the host removes it from the set
  EXPECT_EQ(set_.size(), 0u);
  EXPECT_FALSE(set_.empty());  // waiting to be freed
  EXPECT_EQ(handlers_destroyed_, 0);
  EXPECT_TRUE(c->closed());  // still there to be named by the rest of the turn (ASan)
  c->Close();                // and such a call is harmless

  EXPECT_EQ(set_.FreeClosed(), 1);
  EXPECT_EQ(handlers_destroyed_, 1);
  EXPECT_TRUE(set_.empty());
  EXPECT_EQ(set_.FreeClosed(), 0);
}

TEST_F(ConnectionSetTest, FreeClosedFreesWhatClosedAndNothingElse) {
  int client_a = -1, client_b = -1;
  Connection* a = Open(&client_a);
  Connection* b = Open(&client_b);
  a->Close();
  EXPECT_EQ(set_.FreeClosed(), 1);
  EXPECT_EQ(handlers_destroyed_, 1);
  EXPECT_EQ(set_.size(), 1u);
  EXPECT_EQ(set_.Snapshot(), std::vector<Connection*>{b});
  EXPECT_FALSE(set_.empty());

  // The one left still serves.
  ASSERT_TRUE(WriteAll(client_b, Frame("still here")));
  std::string got;
  ASSERT_TRUE(h_.RunUntil([&] {
    got += ReadAvailable(client_b);
    return got.size() >= Frame("still here").size();
  }));
  EXPECT_EQ(got, Frame("still here"));
  // And the client of the freed one sees its end.
  EXPECT_EQ(ReadAvailable(client_a), "");
  char byte;
  EXPECT_EQ(recv(client_a, &byte, 1, MSG_DONTWAIT), 0);
}

TEST_F(ConnectionSetTest, SizeEmptyAndSnapshotNameTheOpenConnections) {
  EXPECT_TRUE(set_.empty());
  EXPECT_EQ(set_.size(), 0u);
  EXPECT_TRUE(set_.Snapshot().empty());
  int clients[3];
  std::vector<Connection*> opened;
  for (int& client : clients) opened.push_back(Open(&client));
  EXPECT_EQ(set_.size(), 3u);
  EXPECT_FALSE(set_.empty());
  std::vector<Connection*> snapshot = set_.Snapshot();
  std::sort(snapshot.begin(), snapshot.end());
  std::sort(opened.begin(), opened.end());
  EXPECT_EQ(snapshot, opened);

  // A loop over a snapshot may close what it names.
  for (Connection* c : set_.Snapshot()) c->Close();
  EXPECT_EQ(set_.size(), 0u);
  EXPECT_TRUE(set_.Snapshot().empty());
  EXPECT_FALSE(set_.empty());
  EXPECT_EQ(set_.FreeClosed(), 3);
  EXPECT_TRUE(set_.empty());
}

// The server's send buffer and the client's receive buffer made small: a large reply the client
// does not read stays mostly in the connection's output.
void SmallSocketBuffers(int server_fd, int client_fd) {
  const int bytes = 16 << 10;
  CHECK_EQ(setsockopt(server_fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes)), 0);
  CHECK_EQ(setsockopt(client_fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)), 0);
}

TEST_F(ConnectionSetTest, LargestPendingOutputIsTheLargestAmongTheOpenConnections) {
  int idle_client = -1, big_client = -1;
  Connection* idle = Open(&idle_client);
  Connection* big = Open(&big_client, SmallSocketBuffers);
  EXPECT_EQ(set_.LargestPendingOutput(), 0u);

  // A 512 KiB request, echoed to a client that does not read.
  const std::string request = Frame(std::string(512 << 10, 'x'));
  size_t sent = 0;
  ASSERT_TRUE(h_.RunUntil([&] {
    if (sent < request.size()) {
      const ssize_t n =
          send(big_client, request.data() + sent, request.size() - sent, MSG_DONTWAIT);
      if (n > 0) sent += n;
    }
    return sent == request.size() && big->pending_output() > 0;
  }));
  EXPECT_GT(big->pending_output(), size_t{256} << 10);  // most of it: the sockets hold little
  EXPECT_EQ(idle->pending_output(), 0u);
  EXPECT_EQ(set_.LargestPendingOutput(), big->pending_output());

  big->Close();  // closed: no longer counted, though not freed yet
  EXPECT_EQ(set_.LargestPendingOutput(), 0u);
  EXPECT_EQ(set_.FreeClosed(), 1);
}

class ConnectionSetOnIoUringTest : public ConnectionSetTest {
 protected:
  ConnectionSetOnIoUringTest() : ConnectionSetTest(OnIoUring()) {}
};

TEST_F(ConnectionSetOnIoUringTest, FreeClosedWaitsUntilTheKernelHoldsNoOperation) {
  if (h_.loop().backend() != common::IoBackend::kIoUring) {
    GTEST_SKIP() << "io_uring cannot be set up here";
  }
  int client = -1;
  Connection* c = Open(&client);
  // The first frame takes it off probation, onto the ring: a receive is armed from then on.
  ASSERT_TRUE(WriteAll(client, Frame("hi")));
  std::string got;
  ASSERT_TRUE(h_.RunUntil([&] {
    got += ReadAvailable(client);
    return got.size() >= Frame("hi").size();
  }));
  ASSERT_EQ(c->state(), ConnectionState::kOpen);

  c->Close();  // cancels the receive; the kernel reports it in a later turn
  EXPECT_FALSE(c->io_idle());
  EXPECT_EQ(set_.FreeClosed(), 1);  // found, but not freed
  EXPECT_EQ(handlers_destroyed_, 0);
  EXPECT_FALSE(set_.empty());
  EXPECT_EQ(set_.size(), 0u);

  ASSERT_TRUE(h_.RunUntil([&] {
    set_.FreeClosed();  // the end of each turn, as the worker's
    return handlers_destroyed_ == 1;
  }));
  EXPECT_TRUE(set_.empty());
}

}  // namespace
}  // namespace server
