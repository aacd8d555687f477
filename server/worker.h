// Worker: one thread running one epoll loop over the connections handed to it.
//
// The acceptor hands sockets over with Adopt() (a locked queue plus an eventfd wake-up, as in
// muduo's EventLoop::queueInLoop). From then on the connection belongs to this worker alone: it
// reads, decodes every complete frame, calls the connection's handler for each in order,
// appends the replies and writes them, and enforces the limits of ServerOptions:
//   - at most max_frames_per_batch frames from one connection before serving the others;
//   - reading stops while a connection's unsent replies exceed max_pending_output_bytes;
//   - idle and incomplete-frame timeouts;
//   - a bad frame length closes that connection only.
// No call on the loop blocks: a slow or silent client costs the others nothing.
//
// Connections that have not yet completed a frame (new ones, and garbage that never does) wait
// in a probation epoll set, served at most kProbationBatch events per loop iteration, after all
// the ready events of the established connections. A flood of new or bad connections then
// slows down itself, not the clients already being served. The first answered frame promotes
// a connection to the main set.
//
//   Worker worker(0, options, &stats, &context);
//   CHECK_OK(worker.Start());
//   worker.Adopt(fd, &factory);              // any thread
//   worker.Drain(MonotonicNanos() + grace);  // any thread: finish up and stop
//   worker.Join();
#ifndef SERVER_WORKER_H_
#define SERVER_WORKER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "handlers/handler.h"
#include "server/connection.h"
#include "server/log_limiter.h"
#include "server/options.h"
#include "server/stats.h"
#include "server/timer_list.h"

namespace server {

class Worker {
 public:
  // `stats` and `context` are the server's and must outlive the worker.
  Worker(int id, const ServerOptions& options, ServerStats* stats,
         const handlers::HandlerContext* context);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the epoll and wake-up descriptors and starts the thread. Call once.
  absl::Status Start();

  // Thread-safe. Takes ownership of the connected socket `fd`; the worker makes its handler
  // with `factory` (which must outlive the worker).
  void Adopt(int fd, const handlers::HandlerFactory* factory);

  // Thread-safe. Stops the loop gracefully: connections with nothing left to answer are closed
  // at once, the rest as soon as they are answered, and all of them at `deadline_ns`
  // (MonotonicNanos()). The thread exits when none is left.
  void Drain(int64_t deadline_ns);

  void Join();

 private:
  struct Handoff {
    int fd;
    const handlers::HandlerFactory* factory;
  };

  void Run();
  void OnEvent(Connection* c, uint32_t ready);
  void ServeProbation();
  void TakeHandoffs();
  void AdoptWaiting();
  void Promote(Connection* c);
  int NextTimeoutMillis() const;

  void OnReadable(Connection* c);
  int ServeFrames(Connection* c);  // returns the number of frames answered
  void Flush(Connection* c);
  void AfterIo(Connection* c, bool frame_completed);
  void UpdateInterest(Connection* c);
  void ServeReadyList();
  void ExpireTimers();
  void CloseIfDrained(Connection* c);
  void Close(Connection* c);
  std::vector<Connection*> Snapshot() const;  // for loops that may Close()
  void FreeClosed();
  void UpdatePendingOutputMax();
  void MaybeReleaseMemory(int events);
  int64_t NextMemoryReleaseNs() const;

  const int id_;
  const ServerOptions options_;
  ServerStats* const server_stats_;             // not owned
  WorkerStats& stats_;                          // this worker's part of *server_stats_
  const handlers::HandlerContext* const context_;  // not owned
  const int64_t idle_timeout_ns_;
  const int64_t frame_timeout_ns_;

  int epoll_fd_ = -1;            // established connections, the wake-up and probation descriptors
  int probation_epoll_fd_ = -1;  // connections that have not completed a frame yet
  int wake_fd_ = -1;  // eventfd: Adopt() and Drain() write to it
  std::thread thread_;

  std::mutex handoff_mu_;  // guards the three fields below (std::mutex: TSan sees it)
  std::vector<Handoff> handoffs_;
  bool drain_requested_ = false;
  int64_t drain_deadline_ns_ = 0;

  // Loop-thread state.
  absl::flat_hash_map<Connection*, std::unique_ptr<Connection>> connections_;
  TimerList idle_timers_;
  TimerList frame_timers_;
  std::vector<Connection*> ready_;    // connections with frames left after a fairness yield
  std::vector<Connection*> writers_;  // connections waiting for EPOLLOUT
  std::vector<std::unique_ptr<Connection>> closed_;
  std::vector<Handoff> waiting_;  // handed over, adopted at most kProbationBatch per iteration
  size_t waiting_next_ = 0;      // the first of waiting_ not yet adopted
  std::unique_ptr<char[]> read_buffer_;  // shared by this worker's connections
  LogLimiter log_limiter_{10};  // client-provoked warnings: at most 10 lines a second
  int64_t now_ns_ = 0;
  bool release_memory_pending_ = false;  // connections closed since memory was last released
  int64_t memory_released_ns_ = 0;
  int64_t connections_freed_ns_ = 0;     // when FreeClosed() last freed any
  bool draining_ = false;
  int64_t deadline_ns_ = 0;
};

}  // namespace server

#endif  // SERVER_WORKER_H_
