#include "server/worker/memory_governor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
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

constexpr int64_t kKiB = 1 << 10;
constexpr int64_t kLimit = 1 << 20;                // the budget: 1 MiB
constexpr int64_t kResumeMark = kLimit - kLimit / 8;  // 7/8 of it

ConnectionHarness::Options WithLimit() {
  ConnectionHarness::Options options;
  options.memory_limit = kLimit;
  return options;
}

ServerOptions GovernorOptions(size_t max_pending_output = 4 << 20) {
  ServerOptions options;
  options.workers = 1;
  options.max_buffer_memory = kLimit;
  options.max_pending_output_bytes = max_pending_output;
  return options;
}

// A worker reduced to its MemoryGovernor, on the harness's budget (1 MiB): the connections
// report what they hold to this fixture (their Host), which has the governor account it, bound
// their output and forget them when they close. Closed connections are kept (not freed) until
// the test ends, so that the test may still look at them. What "the other workers" hold is
// charged to the budget by the test itself.
class MemoryGovernorTest : public ::testing::Test, public Connection::Host {
 protected:
  MemoryGovernorTest() : h_(WithLimit()) {
    env_ = h_.env();
    env_.host = this;
    served_.factory = [](const handlers::HandlerContext&) {
      return std::make_unique<handlers::EchoHandler>();
    };
  }
  ~MemoryGovernorTest() override {
    for (int fd : clients_) close(fd);
  }

  Connection* Open(int* client) {
    const auto [server_end, client_end] = LoopbackPair();
    *client = client_end;
    clients_.push_back(client_end);
    Connection* c =
        set_.Add(std::make_unique<Connection>(server_end, next_id_++, &served_, &env_));
    c->Start();
    return c;
  }

  // The first bytes of a frame of `payload` bytes: the decoder reserves room for all of it.
  static std::string FrameStart(size_t payload) { return Frame(std::string(payload, 'x')).substr(0, 14); }
  static std::string FrameRest(size_t payload) { return Frame(std::string(payload, 'x')).substr(14); }

  // A connection holding the start of a frame of `payload` bytes, once its charge shows it.
  Connection* Holding(size_t payload, int* client) {
    Connection* c = Open(client);
    EXPECT_TRUE(SendAndRunUntil(*client, FrameStart(payload), [&] {
      return c->hooks().charged >= static_cast<int64_t>(payload);
    }));
    return c;
  }

  // Sends `bytes` from `client` as the loop runs, until all are sent and `done()`.
  bool SendAndRunUntil(int client, const std::string& bytes, const std::function<bool()>& done) {
    size_t sent = 0;
    return h_.RunUntil([&] {
      if (sent < bytes.size()) {
        const ssize_t n = send(client, bytes.data() + sent, bytes.size() - sent,
                               MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) sent += n;
      }
      return sent == bytes.size() && done();
    });
  }

  // Connection::Host.
  void ContinueAfterTurn(Connection* c) override { h_.ContinueAfterTurn(c); }
  void OnActivity(Connection*) override {}
  void OnFrameProgress(Connection*, bool, bool) override {}
  void OnHeldBytesChanged(Connection* c) override { governor_.Account(c); }
  size_t MaxPendingOutput(const Connection& c) const override {
    return governor_.MaxPendingOutput(c);
  }
  void OnClosed(Connection* c) override {
    governor_.Forget(c);
    c->hooks().ready.Unlink();
    closed_ids_.push_back(c->id());
    set_.Remove(c);
  }

  MemoryBudget& budget() { return h_.budget(); }
  WorkerStats& stats() { return h_.stats(); }

  ConnectionHarness h_;
  Connection::Env env_;
  ServedHandler served_;
  common::LogLimiter log_{10};
  int evict_elsewhere_calls_ = 0;
  std::vector<uint64_t> closed_ids_;  // in the order they closed
  std::vector<int> clients_;
  uint64_t next_id_ = 1;
  ConnectionSet set_;
  MemoryGovernor governor_{&h_.budget(),
                           GovernorOptions(),
                           &set_,
                           &h_.stats(),
                           &log_,
                           [this] { ++evict_elsewhere_calls_; },
                           common::MonotonicNanos()};
};

TEST_F(MemoryGovernorTest, AccountChargesWhatAConnectionHoldsAndFollowsIt) {
  int client = -1;
  Connection* c = Holding(100 * kKiB, &client);
  EXPECT_GE(c->HeldBytes(), 100 * kKiB);  // the room reserved for the frame
  EXPECT_EQ(c->hooks().charged, c->HeldBytes());
  EXPECT_EQ(budget().used(), c->HeldBytes());

  // The frame completes and its echo is read: the frame's room goes back to the budget.
  const std::string rest = FrameRest(100 * kKiB);
  std::string got;
  const size_t expected = Frame(std::string(100 * kKiB, 'x')).size();
  ASSERT_TRUE(SendAndRunUntil(client, rest, [&] {
    got += ReadAvailable(client);
    return got.size() == expected && c->pending_output() == 0;
  }));
  EXPECT_LT(c->HeldBytes(), 64 * kKiB);
  EXPECT_EQ(c->hooks().charged, c->HeldBytes());
  EXPECT_EQ(budget().used(), c->HeldBytes());
}

TEST_F(MemoryGovernorTest, OverTheLimitTheConnectionThatGrewIsPaused) {
  budget().Charge(kLimit - 16 * kKiB);  // the other workers' connections
  int client = -1;
  Connection* c = Holding(32 * kKiB, &client);  // passes the limit
  EXPECT_TRUE(budget().over());
  EXPECT_EQ(c->state(), ConnectionState::kPausedMemory);
  EXPECT_EQ(stats().reads_paused_memory.value(), 1);
  EXPECT_FALSE(c->closed());  // it holds too little to be evicted
  EXPECT_EQ(stats().closed_memory_budget.value(), 0);
}

TEST_F(MemoryGovernorTest, APausedConnectionResumesWhenResumePausedFindsRoom) {
  const int64_t others = kLimit - 16 * kKiB;
  budget().Charge(others);
  int client = -1;
  Connection* c = Holding(32 * kKiB, &client);
  ASSERT_EQ(c->state(), ConnectionState::kPausedMemory);

  governor_.ResumePaused();  // no room yet
  EXPECT_EQ(c->state(), ConnectionState::kPausedMemory);

  budget().Charge(-others);  // the other workers' connections went away
  ASSERT_TRUE(budget().room_to_resume());
  governor_.ResumePaused();
  EXPECT_EQ(c->state(), ConnectionState::kProbation);  // reading again (no frame taken yet)

  // And it is served: the rest of its frame is read and answered.
  std::string got;
  const size_t expected = Frame(std::string(32 * kKiB, 'x')).size();
  ASSERT_TRUE(SendAndRunUntil(client, FrameRest(32 * kKiB), [&] {
    got += ReadAvailable(client);
    return got.size() == expected;
  }));
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
}

TEST_F(MemoryGovernorTest, EvictLargestClosesTheLargestFirstAndStopsUnderSevenEighths) {
  int client_c = -1, client_a = -1, client_b = -1;
  Connection* c = Holding(100 * kKiB, &client_c);  // opened first, holds the least
  Connection* a = Holding(400 * kKiB, &client_a);
  Connection* b = Holding(300 * kKiB, &client_b);
  ASSERT_FALSE(budget().over());
  // The other workers hold what, with c alone, is exactly the resume mark: closing a is not
  // enough, closing a and b is.
  budget().Charge(kResumeMark - c->hooks().charged);
  ASSERT_TRUE(budget().over());

  governor_.EvictLargest(common::MonotonicNanos());
  EXPECT_EQ(closed_ids_, (std::vector<uint64_t>{a->id(), b->id()}));
  EXPECT_TRUE(a->closed());
  EXPECT_TRUE(b->closed());
  EXPECT_FALSE(c->closed());
  EXPECT_EQ(stats().closed_memory_budget.value(), 2);
  EXPECT_TRUE(budget().room_to_resume());
  EXPECT_EQ(budget().used(), kResumeMark);
}

TEST_F(MemoryGovernorTest, AConnectionHoldingLessThan64KiBIsNeverEvicted) {
  int client_small = -1, client_big = -1;
  Connection* small = Holding(48 * kKiB, &client_small);
  Connection* big = Holding(80 * kKiB, &client_big);
  ASSERT_LT(small->hooks().charged, 64 * kKiB);
  ASSERT_GE(big->hooks().charged, 64 * kKiB);
  budget().Charge(2 * kLimit);  // over, whatever this worker closes

  governor_.EvictLargest(common::MonotonicNanos());
  EXPECT_TRUE(big->closed());
  EXPECT_FALSE(small->closed());
  EXPECT_EQ(stats().closed_memory_budget.value(), 1);
  EXPECT_TRUE(budget().over());
}

TEST_F(MemoryGovernorTest, TheOtherWorkersAreAskedWhenItsOwnConnectionsDoNotSuffice) {
  budget().Charge(kLimit - 16 * kKiB);
  int client = -1;
  Holding(32 * kKiB, &client);  // over; nothing of this worker's may be evicted
  EXPECT_EQ(evict_elsewhere_calls_, 1);
}

TEST_F(MemoryGovernorTest, TheOtherWorkersAreNotAskedWhenClosingItsOwnSuffices) {
  int client_a = -1, client_b = -1;
  Connection* a = Holding(400 * kKiB, &client_a);
  budget().Charge(500 * kKiB);  // the other workers' connections
  ASSERT_FALSE(budget().over());
  Connection* b = Holding(300 * kKiB, &client_b);  // passes the limit: pauses, a is closed
  EXPECT_TRUE(a->closed());
  EXPECT_EQ(b->state(), ConnectionState::kPausedMemory);
  EXPECT_TRUE(budget().room_to_resume());
  EXPECT_EQ(evict_elsewhere_calls_, 0);

  governor_.ResumePaused();
  EXPECT_EQ(b->state(), ConnectionState::kProbation);
}

TEST_F(MemoryGovernorTest, ForgetGivesTheChargeBack) {
  int client = -1;
  Connection* c = Holding(100 * kKiB, &client);
  const int64_t charged = c->hooks().charged;
  const int64_t before = budget().used();
  ASSERT_GT(charged, 0);
  governor_.Forget(c);
  EXPECT_EQ(budget().used(), before - charged);
  EXPECT_EQ(c->hooks().charged, 0);
}

TEST_F(MemoryGovernorTest, ClosingAConnectionGivesItsChargeBack) {
  int client_a = -1, client_b = -1;
  Connection* a = Holding(100 * kKiB, &client_a);
  Connection* b = Holding(200 * kKiB, &client_b);
  const int64_t b_charged = b->hooks().charged;
  a->Close();
  EXPECT_EQ(budget().used(), b_charged);
}

TEST_F(MemoryGovernorTest, MaxPendingOutputIsBoundedByTheBudgetsRoom) {
  int client = -1;
  Connection* c = Open(&client);
  ASSERT_EQ(c->pending_output(), 0u);
  const int64_t held = budget().used();
  EXPECT_EQ(governor_.MaxPendingOutput(*c), static_cast<size_t>(kLimit - held));

  budget().Charge(768 * kKiB - held);
  EXPECT_EQ(governor_.MaxPendingOutput(*c), static_cast<size_t>(256 * kKiB));

  budget().Charge(kLimit);  // over: no room at all
  EXPECT_EQ(governor_.MaxPendingOutput(*c), 0u);

  // With room, the per-connection bound (--max_pending_output_bytes) still holds.
  budget().Charge(-budget().used());
  MemoryGovernor bounded(&h_.budget(), GovernorOptions(/*max_pending_output=*/64 * kKiB), &set_,
                         &h_.stats(), &log_, nullptr, common::MonotonicNanos());
  EXPECT_EQ(bounded.MaxPendingOutput(*c), static_cast<size_t>(64 * kKiB));
}

}  // namespace
}  // namespace server
