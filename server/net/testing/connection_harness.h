// ConnectionHarness: real Connections on a real event loop, with no worker, for unit tests of
// the connection, its transports and the worker's parts.
//
// It plays the worker's part as simply as it can: it is the connections' Host (it records
// what they ask and keeps a ready list), owns them and frees closed ones at the end of each
// turn, and runs the loop on the test's own thread until a condition holds. Each connection
// is one end of a loopback TCP pair; the test holds the other.
//
//   ConnectionHarness h;                          // echo handler, epoll
//   int client = -1;
//   Connection* c = h.Open(&client);
//   WriteAll(client, Frame("hi"));
//   ASSERT_TRUE(h.RunUntil([&] { return h.stats().frames_out.value() == 1; }));
//
// Not thread-safe: one test thread.
#ifndef SERVER_NET_TESTING_CONNECTION_HARNESS_H_
#define SERVER_NET_TESTING_CONNECTION_HARNESS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "common/intrusive_list.h"
#include "common/log_limiter.h"
#include "common/poller.h"
#include "handlers/handler.h"
#include "server/dispatch/handler_pool.h"
#include "server/dispatch/request_deadlines.h"
#include "server/dispatch/served_handler.h"
#include "server/dispatch/session.h"
#include "server/memory/memory_budget.h"
#include "server/net/connection.h"
#include "server/net/transports.h"
#include "server/stats/stats.h"

namespace server::testing {

class ConnectionHarness : public Connection::Host {
 public:
  struct Options {
    handlers::HandlerFactory factory;  // echo if empty
    const tls::Context* tls = nullptr;
    common::IoBackend io = common::IoBackend::kEpoll;
    uint32_t max_frame_bytes = 1 << 20;
    int max_frames_per_batch = 64;
    size_t max_inflight = 64;
    size_t max_pending_output = 4 << 20;  // MaxPendingOutput() answers this
    int64_t memory_limit = int64_t{1} << 40;
    absl::Duration handler_timeout = absl::InfiniteDuration();
  };

  ConnectionHarness();
  explicit ConnectionHarness(Options options);
  ~ConnectionHarness() override;

  // A new connection (started) and, in `*client_fd`, the test's end of it (owned by the test).
  Connection* Open(int* client_fd);

  // Runs loop turns until `done()` (checked after each turn) or `timeout`; false on timeout.
  bool RunUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10));

  // Connection::Host, recorded.
  void ContinueAfterTurn(Connection* c) override { ready_.PushBack(&c->hooks().ready); }
  void OnActivity(Connection*) override { ++activity_; }
  void OnFrameProgress(Connection* c, bool incomplete, bool started) override;
  void OnHeldBytesChanged(Connection* c) override;
  size_t MaxPendingOutput(const Connection&) const override { return max_pending_output_; }
  void OnClosed(Connection* c) override;

  void set_max_pending_output(size_t bytes) { max_pending_output_ = bytes; }
  // The connection is open (not closed, not freed).
  bool open(Connection* c) const { return connections_.contains(c); }
  // Connections closed so far, and freed (at the end of their turn, once their transport idle).
  int closed() const { return closed_; }
  int freed() const { return freed_; }
  int64_t activity() const { return activity_; }
  // Connections whose last frame-progress report said an incomplete frame is buffered.
  bool incomplete_frame(Connection* c) const;
  int64_t held_bytes(Connection* c) const { return c->hooks().charged; }

  common::EventLoop& loop() { return loop_; }
  common::Poller& probation() { return probation_; }
  WorkerStats& stats() { return stats_.worker(0); }
  MemoryBudget& budget() { return budget_; }
  RequestDeadlines& deadlines() { return deadlines_; }
  HandlerPool& pool() { return pool_; }
  const Connection::Env& env() const { return env_; }

 private:
  void AfterTurn();

  const Options options_;
  size_t max_pending_output_;
  MemoryBudget budget_;
  ServerStats stats_;
  common::EventLoop loop_;
  common::Poller probation_;
  common::LogLimiter log_{1000};
  handlers::HandlerContext context_;
  HandlerPool pool_;
  RequestDeadlines deadlines_;
  ServedHandler served_;
  Session::Services services_;
  std::unique_ptr<Transports> transports_;
  Connection::Env env_;
  absl::flat_hash_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> closed_now_;
  std::vector<std::unique_ptr<Connection>> closing_;
  absl::flat_hash_map<Connection*, bool> incomplete_;
  common::IntrusiveList<Connection> ready_;
  int closed_ = 0;
  int freed_ = 0;
  int64_t activity_ = 0;
};

// A connected loopback TCP pair: {server end (non-blocking), client end (blocking)}.
std::pair<int, int> LoopbackPair();

// Test helpers on the client's end: a 4-byte big-endian length, then the payload.
std::string Frame(absl::string_view payload);
// Writes all of `bytes` (blocking); false on error.
bool WriteAll(int fd, absl::string_view bytes);
// Reads what the socket has now, without waiting ("" if nothing; the bytes so far at EOF).
std::string ReadAvailable(int fd);

}  // namespace server::testing

#endif  // SERVER_NET_TESTING_CONNECTION_HARNESS_H_
