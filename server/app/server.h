// Server: the listening sockets, the acceptor thread, the pool of workers and the handler
// threads, assembled.
//
// The server knows handlers only through what it is given per listener (a factory, and whether
// its calls block); it never names one. main.cc picks them from the registry; tests may pass
// their own.
//
//   Server server(options);
//   server.AddListener({"127.0.0.1", 0, {echo_factory}});
//   CHECK_OK(server.Start());
//   int port = server.port(0);
//   ...
//   server.Shutdown();  // stop accepting, answer what was received, close; returns when done
#ifndef SERVER_APP_SERVER_H_
#define SERVER_APP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "handlers/handler.h"
#include "absl/time/time.h"
#include "server/memory/memory_budget.h"
#include "server/net/connection_report.h"
#include "server/config/options.h"
#include "server/dispatch/served_handler.h"
#include "server/stats/stats.h"
#include "server/upstream/upstreams.h"

namespace server {

class Acceptor;
class HandlerPool;
class Worker;

class Server {
 public:
  struct ListenerSpec {
    std::string address;  // IPv4 or IPv6 literal
    int port = 0;         // 0 picks a free port
    ServedHandler handler;
    // A listening socket to take instead of binding (socket activation: the process that
    // passed it keeps its own, so connections waiting in it outlive this server); -1: bind.
    int fd = -1;
  };

  explicit Server(const ServerOptions& options);
  ~Server();  // shuts down if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Before Start().
  void AddListener(ListenerSpec spec);
  // Before Start(): `hook` runs at shutdown once the workers have stopped, before the server
  // waits for calls still running on handler threads.
  void AddDrainHook(std::function<void()> hook);
  // Before Start(): `hook` runs at shutdown after the last handler call has returned.
  void AddStopHook(std::function<void()> hook);
  // A counter shown in the stats (handlers/service.h, StartContext). Thread-safe.
  handlers::HandlerCounter* AddHandlerCounter(absl::string_view handler, absl::string_view name) {
    return stats_->handler_counters().Add(handler, name);
  }
  handlers::HandlerGauge* AddHandlerGauge(absl::string_view handler, absl::string_view name) {
    return stats_->handler_counters().AddGauge(handler, name);
  }

  // Before Start(): another service the handlers call (handlers/service.h, AddUpstream).
  absl::StatusOr<handlers::Upstream*> AddUpstream(const handlers::UpstreamOptions& options) {
    return upstreams_.Add(options);
  }
  const upstream::Upstreams& upstreams() const { return upstreams_; }

  // Binds every listener and starts the handler threads, the workers and the acceptor.
  absl::Status Start();

  // The port listener `index` is bound to (after Start()).
  int port(int index) const { return ports_[index]; }
  // After Start(): the I/O backend the workers run on (options' io, or epoll if io_uring could
  // not be set up).
  common::IoBackend io_backend() const;

  // Thread-safe: the server-wide memory budget, for handlers that queue requests of their own.
  handlers::MemoryAccount* memory_budget() { return &budget_; }

  // Thread-safe: the statistics (stats.h), for the admin pages.
  const ServerStats& stats() const { return *stats_; }

  // Thread-safe, after Start(): the earliest of the workers' last loop turns, and a wake-up
  // posted to each loop (the systemd watchdog, server/service/watchdog.h).
  int64_t OldestTurnNs() const;
  void WakeWorkers();
  // Thread-safe, after Start(): up to `limit` open connections (by id), each gathered by its own
  // worker on its loop thread. Waits up to `timeout` for the workers; `*complete` says whether
  // all answered in time (a stopped worker has nothing to report).
  std::vector<ConnectionReport> Connections(size_t limit, absl::Duration timeout,
                                            bool* complete);
  // Thread-safe, after Start(): runs `task` on every worker's loop thread and waits up to
  // `timeout` for all of them; whether all ran it (or had stopped).
  bool RunOnEveryWorker(const std::function<void()>& task, absl::Duration timeout);

  // Idempotent; call from one thread. Lets workers answer the frames they have (waiting for
  // handler calls in flight), closes connections that owe nothing at once and the rest at the
  // shutdown grace deadline, then stops accepting (the listener goes last), runs the drain
  // hooks, waits for running handler calls; returns when all is done. With listeners taken
  // from socket activation, it stops accepting first instead: connections still waiting in
  // the sockets are the next process's.
  void Shutdown();

 private:
  const ServerOptions options_;
  MemoryBudget budget_;  // --max_buffer_memory: charged by the workers and handlers
  std::unique_ptr<ServerStats> stats_;
  handlers::HandlerContext context_;
  upstream::Upstreams upstreams_;  // declared by the services; outlives the workers' pools
  std::vector<ListenerSpec> specs_;
  std::vector<std::function<void()>> drain_hooks_;
  std::vector<std::function<void()>> stop_hooks_;
  std::vector<int> ports_;
  std::unique_ptr<HandlerPool> pool_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Acceptor> acceptor_;
  size_t next_worker_ = 0;  // acceptor thread only
  bool shut_down_ = false;
  bool inherited_listeners_ = false;  // some listener came from socket activation
};

}  // namespace server

#endif  // SERVER_APP_SERVER_H_
