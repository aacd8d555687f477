// Worker: one thread running one event loop over the connections handed to it.
//
// The acceptor hands sockets over with Adopt() (a task posted to the loop); from then on the
// connection belongs to this worker alone. A connection runs its own state machine
// (server/net/connection.h); the worker is the thread, the loop, the adoption, the order of a
// turn, and the parts each policy lives in, which a connection reaches through its Host:
//   - ConnectionSet: owns the connections, frees closed ones at the end of the turn;
//   - ProbationSet: new connections wait there until their first frame;
//   - the ready list: connections with work left for the end of the turn (fairness, input a
//     transport holds, answers given later to write);
//   - Timeouts: idle and incomplete frames; LateAnswers: answers given later, their deadlines;
//   - MemoryGovernor: the server-wide budget, --max_buffer_memory, and trimming;
//   - Drainer: the graceful stop;
//   - WorkerUpstreams: its pools of connections to the services' upstreams, whose calls are
//     written, timed and answered at the end of each turn.
// No call on the loop blocks: a slow or silent client costs the others nothing.
//
//   Worker worker(0, options, &stats, &budget, &context, &pool, &upstreams, evict_elsewhere);
//   CHECK_OK(worker.Start());
//   worker.Adopt(fd, &served);                      // any thread
//   worker.Drain(MonotonicNanos() + grace);         // any thread: finish up and stop
//   worker.Join();
#ifndef SERVER_WORKER_WORKER_H_
#define SERVER_WORKER_WORKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/event_loop.h"
#include "common/intrusive_list.h"
#include "common/log_limiter.h"
#include "server/config/options.h"
#include "server/net/connection.h"
#include "server/net/transports.h"
#include "server/stats/stats.h"
#include "server/upstream/upstreams.h"
#include "server/worker/connection_set.h"
#include "server/worker/drainer.h"
#include "server/worker/late_answers.h"
#include "server/worker/memory_governor.h"
#include "server/worker/probation.h"
#include "server/worker/timeouts.h"
#include "server/worker/turn_end_hooks.h"

namespace server {

class Worker : private Connection::Host {
 public:
  // `stats`, `budget`, `context` and `pool` are the server's and must outlive the worker. When
  // closing its own largest connections does not bring the memory budget back, the worker
  // calls `evict_elsewhere(id)` (any thread) to have the other workers do the same.
  // `upstreams` (may be null: none) are the services' upstreams; the worker keeps its own pools
  // of them (server/upstream/upstreams.h).
  Worker(int id, const ServerOptions& options, ServerStats* stats, MemoryBudget* budget,
         const handlers::HandlerContext* context, HandlerPool* pool,
         const upstream::Upstreams* upstreams, std::function<void(int)> evict_elsewhere);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Sets up the loop and starts the thread. Call once.
  absl::Status Start();
  // Thread-safe. Takes ownership of the connected socket `fd`, to be answered by `handler`
  // (which must outlive the worker).
  void Adopt(int fd, const ServedHandler* handler);
  // Thread-safe. Stops the loop gracefully (drainer.h); the thread exits when no connection
  // is left.
  void Drain(int64_t deadline_ns);
  void Join();
  // Thread-safe. Has the loop close its connections that hold the most, while the memory
  // budget is exceeded.
  void PostEviction();
  // Thread-safe: when the loop last turned (common::MonotonicNanos()), and a wake-up that makes
  // an idle loop turn: the watchdog's proof that the loop is not stuck (server/service).
  int64_t last_turn_ns() const { return turn_ns_.load(std::memory_order_relaxed); }
  void Wake() { loop_.Post([] {}); }
  // Thread-safe: on the loop thread, calls `done` with up to `limit` of its open connections
  // (the admin port's /connections). False if the loop has stopped (`done` is not called).
  bool PostReport(size_t limit, std::function<void(std::vector<ConnectionReport>)> done);
  // Thread-safe: runs `task` on the loop thread. False if the loop has stopped.
  bool Post(std::function<void()> task) { return loop_.Post(std::move(task)); }
  // After Start(): the backend the loop settled on.
  common::IoBackend io_backend() const { return loop_.backend(); }

 private:
  struct Handoff {
    int fd;
    const ServedHandler* handler;
  };

  int64_t AfterTurn(int64_t now_ns, int events);
  void AdoptWaiting(size_t most);
  void ServeReadyList();
  void PublishGauges(int64_t now_ns);
  int64_t NextDeadlineNs(int64_t now_ns) const;

  // Connection::Host: each policy's part.
  void ContinueAfterTurn(Connection* c) override { ready_.PushBack(&c->hooks().ready); }
  void OnActivity(Connection* c) override { timeouts_.Touch(c, loop_.now_ns()); }
  void OnFrameProgress(Connection* c, bool incomplete, bool started) override {
    timeouts_.FrameProgress(c, incomplete, started, loop_.now_ns());
  }
  void OnHeldBytesChanged(Connection* c) override { governor_.Account(c); }
  size_t MaxPendingOutput(const Connection& c) const override {
    return governor_.MaxPendingOutput(c);
  }
  void OnClosed(Connection* c) override;

  const int id_;
  const ServerOptions options_;
  ServerStats* const server_stats_;  // not owned
  WorkerStats& stats_;               // this worker's part of *server_stats_
  common::EventLoop loop_;
  ProbationSet probation_;
  common::LogLimiter log_limiter_{10};  // client-provoked warnings: at most 10 lines a second
  Transports transports_;
  TurnEndHooks turn_end_;
  const handlers::HandlerContext context_;  // the server's, with this worker's turn_end_
  LateAnswers late_;
  const Connection::Env env_;
  // Declared after what a connection uses: destroyed before it.
  ConnectionSet connections_;
  common::IntrusiveList<Connection> ready_;
  Timeouts timeouts_;
  MemoryGovernor governor_;
  Drainer drainer_;
  const upstream::UpstreamConnection::Env upstream_env_;
  upstream::WorkerUpstreams upstreams_;
  std::vector<Handoff> waiting_;  // handed over, adopted at most ProbationSet::kBatch a turn
  size_t waiting_next_ = 0;       // the first of waiting_ not yet adopted
  std::atomic<bool> eviction_posted_{false};  // a PostEviction task is queued
  std::atomic<int64_t> turn_ns_{0};           // the last turn's time, for the watchdog
  int64_t next_gauges_ns_ = 0;
  bool gauges_stale_ = false;
  std::thread thread_;
};

}  // namespace server

#endif  // SERVER_WORKER_WORKER_H_
