// Worker: one thread running one event loop over the connections handed to it.
//
// The acceptor hands sockets over with Adopt() (a task posted to the loop). From then on the
// connection belongs to this worker alone. The path of a frame, top-down in worker.cc:
//   OnConnectionEvents -> ReadAndServe -> Serve (dispatch + policies) -> Flush -> UpdateInterest
// and for answers given later (deferred or blocking handlers):
//   OnLateReply (on the loop, posted by the completing thread) -> Flush.
// The policies, each in one place:
//   - probation: new connections wait in ProbationSet until their first frame (probation.h);
//   - fairness: at most max_frames_per_batch frames from one connection, then the ready list;
//   - backpressure: a connection is paused while its unsent output exceeds
//     max_pending_output_bytes or max_inflight_per_connection requests are unanswered
//     (ApplyStop / MaybeResume);
//   - timeouts: idle, incomplete frame, handler (ExpireTimers);
//   - drain: BeginDrain / CloseConnectionsDone at the end of each turn / the grace deadline
//     (worker_drain.cc);
//   - memory: the server-wide budget, --max_buffer_memory (worker_memory.cc), and giving
//     freed memory back to the kernel (memory_release.h).
// No call on the loop blocks: a slow or silent client costs the others nothing.
//
//   Worker worker(0, options, &stats, &budget, &context, &pool, evict_elsewhere);
//   CHECK_OK(worker.Start());
//   worker.Adopt(fd, &served);                      // any thread
//   worker.Drain(MonotonicNanos() + grace);         // any thread: finish up and stop
//   worker.Join();
#ifndef SERVER_WORKER_H_
#define SERVER_WORKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/event_loop.h"
#include "handlers/handler.h"
#include "server/connection.h"
#include "server/connection_link.h"
#include "server/handler_pool.h"
#include "server/later_answers.h"
#include "server/log_limiter.h"
#include "server/memory/memory_budget.h"
#include "server/memory/memory_release.h"
#include "server/options.h"
#include "server/probation.h"
#include "server/request_deadlines.h"
#include "server/served_handler.h"
#include "server/stats.h"
#include "server/timer_list.h"

namespace server {

class Worker : private LateReplyReceiver, private Connection::Owner {
 public:
  // `stats`, `budget`, `context` and `pool` are the server's and must outlive the worker. When closing
  // its own largest connections does not bring the memory budget back, the worker calls
  // `evict_elsewhere(id)` (any thread) to have the other workers do the same.
  Worker(int id, const ServerOptions& options, ServerStats* stats, MemoryBudget* budget,
         const handlers::HandlerContext* context, HandlerPool* pool,
         std::function<void(int)> evict_elsewhere);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Sets up the loop and starts the thread. Call once.
  absl::Status Start();

  // Thread-safe. Takes ownership of the connected socket `fd`, to be answered by `handler`
  // (which must outlive the worker).
  void Adopt(int fd, const ServedHandler* handler);

  // Thread-safe. Stops the loop gracefully: connections that owe nothing are closed at once,
  // the rest as soon as they are answered, and all of them at `deadline_ns`
  // (common::MonotonicNanos()). The thread exits when none is left.
  void Drain(int64_t deadline_ns);

  void Join();

  // Thread-safe. Has the loop close its connections that hold the most, while the memory
  // budget is exceeded (worker_memory.cc).
  void PostEviction();

  // After Start(): the backend the loop settled on.
  common::IoBackend io_backend() const { return loop_.backend(); }

 private:
  struct Handoff {
    int fd;
    const ServedHandler* handler;
  };

  // The loop's turn: everything that is not an event of one connection.
  int64_t AfterTurn(int64_t now_ns, int events);
  void AdoptWaiting();

  // The path of a frame.
  void OnConnectionEvents(Connection* c, uint32_t ready) override;
  void ReadAndServe(Connection* c);
  void Serve(Connection* c);
  void ApplyStop(Connection* c, const DispatchResult& result);
  void Flush(Connection* c);
  void MaybeResume(Connection* c);
  void UpdateInterest(Connection* c);
  // Answers that come later (worker_later.cc).
  void OnLateReply(Connection* c, uint64_t request, std::string frame, bool is_error,
                   bool close_after) override;
  bool PlaceAnswer(Connection* c, uint64_t request, std::string frame, bool is_error,
                   int64_t* started_ns);
  void AnswerWaiting(Connection* c, uint64_t request, const absl::Status& status);
  void FlushLateAnswers();  // writes what OnLateReply placed this turn
  void ExpireRequests();  // --handler_timeout_ms

  void ServeReadyList();
  void ListIfInputPending(Connection* c);

  // Handlers and TLS handshakes (worker_tls.cc).
  void MakeHandler(Connection* c);
  void StartHandshake(Connection* c);
  void ContinueHandshake(Connection* c);

  // Timers (worker_timers.cc).
  void UpdateFrameTimer(Connection* c, bool frame_taken);
  void ExpireTimers();
  int64_t NextDeadlineNs() const;

  // The memory budget, --max_buffer_memory (worker_memory.cc). While connections are paused
  // for memory, the loop looks at the budget this often.
  static constexpr int64_t kMemoryRecheckNs = 10'000'000;
  void Account(Connection* c);  // charges what `c` holds now; enforces the budget
  size_t MaxPendingOutput(const Connection& c) const;
  void CapBlockCache() const;
  void EnforceBudget(Connection* grown);
  void EvictLargest();
  void ResumeMemoryPaused();

  // Drain and close (worker_drain.cc).
  void BeginDrain(int64_t deadline_ns);
  void CloseConnectionsDone();
  void CloseIfDone(Connection* c);
  void CloseAllAtDeadline();
  void Close(Connection* c);
  void FreeClosed();
  std::vector<Connection*> Snapshot() const;  // for loops that may Close()
  void UpdatePendingOutputMax();

  const int id_;
  const ServerOptions options_;
  ServerStats* const server_stats_;                // not owned
  WorkerStats& stats_;                             // this worker's part of *server_stats_
  const handlers::HandlerContext* const context_;  // not owned
  const int64_t idle_timeout_ns_;
  const int64_t frame_timeout_ns_;

  common::EventLoop loop_;
  ProbationSet probation_;
  std::thread thread_;

  // Loop-thread state.
  absl::flat_hash_map<Connection*, std::unique_ptr<Connection>> connections_;
  TimerList idle_timers_;
  TimerList frame_timers_;
  RequestDeadlines request_deadlines_;
  LaterAnswerServices later_;
  std::vector<Connection*> ready_;    // connections with frames left after a fairness yield
  std::vector<Connection*> writers_;  // connections waiting for EPOLLOUT
  std::vector<Connection*> late_flushes_;  // answered later this turn, to write at its end
  std::vector<std::unique_ptr<Connection>> closed_;
  // Closed, but the kernel still holds operations of theirs (io_uring): freed once it does not.
  std::vector<std::unique_ptr<Connection>> closing_;
  std::vector<Handoff> waiting_;  // handed over, adopted at most ProbationSet::kBatch a turn
  size_t waiting_next_ = 0;       // the first of waiting_ not yet adopted
  std::unique_ptr<char[]> read_buffer_;  // shared by this worker's connections
  LogLimiter log_limiter_{10};  // client-provoked warnings: at most 10 lines a second
  MemoryBudget& budget_;        // server-wide, the server's
  const std::function<void(int)> evict_elsewhere_;
  std::atomic<bool> eviction_posted_{false};  // a PostEviction task is queued
  std::vector<Connection*> memory_paused_;    // not read until the budget has room
  MemoryRelease memory_release_;
  int64_t now_ns_ = 0;
  bool draining_ = false;
  int64_t deadline_ns_ = 0;
};

}  // namespace server

#endif  // SERVER_WORKER_H_
