// Upstreams: the upstreams the services declared, and each worker's pools of them.
//
// A service's AddUpstream() (handlers/service.h) lands in Upstreams::Add() at start-up, before
// any worker runs; it returns the handlers::Upstream the service keeps. Each worker then makes
// its WorkerUpstreams (one Pool per upstream) and Enter()s it on its loop thread, so that a
// Call() made there finds that worker's pool with no lock, as Envoy's thread-local clusters do.
//
//   Upstreams upstreams;
//   absl::StatusOr<handlers::Upstream*> cache = upstreams.Add(options);   // at start-up
//   WorkerUpstreams mine(&upstreams, {&transports, max_frame_bytes}, &loop, worker_id);
//   mine.Enter();                        // on the worker's loop thread
//   (*cache)->Call(request, {}, done);   // from Handle(): this worker's pool
//   mine.OnTurnEnd(now_ns);              // after each loop turn
//
// Thread rule: Add() before the workers start; WorkerUpstreams on its worker's loop thread.
#ifndef SERVER_UPSTREAM_UPSTREAMS_H_
#define SERVER_UPSTREAM_UPSTREAMS_H_

#include <cstdint>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/event_loop.h"
#include "handlers/upstream.h"
#include "server/upstream/pool.h"
#include "server/upstream/upstream_config.h"
#include "server/upstream/upstream_connection.h"

namespace server {
namespace upstream {

class Upstreams {
 public:
  Upstreams();
  ~Upstreams();
  Upstreams(const Upstreams&) = delete;
  Upstreams& operator=(const Upstreams&) = delete;

  // Checks and resolves `options` (InvalidArgument naming what is wrong; a name taken twice).
  // `resolve`: how names become addresses (a test's; default: getaddrinfo).
  absl::StatusOr<handlers::Upstream*> Add(const handlers::UpstreamOptions& options,
                                          UpstreamConfig::Resolver resolve = nullptr);

  size_t size() const { return declared_.size(); }
  const UpstreamConfig& config(size_t i) const;

  // After the last Add(): a thread that resolves the backends given by name again, each
  // upstream every its `resolve_every` (none if no backend is given by name). Stopped by
  // StopResolving() or the destructor.
  void StartResolving();
  void StopResolving();

 private:
  class Declared;
  void ResolveLoop();

  std::vector<std::unique_ptr<Declared>> declared_;
  std::mutex mu_;  // std::mutex: TSan understands it
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread resolver_;
};

// One worker's pools, one per declared upstream.
class WorkerUpstreams {
 public:
  WorkerUpstreams(const Upstreams* upstreams, const UpstreamConnection::Env& env,
                  common::EventLoop* loop, int worker);
  ~WorkerUpstreams();

  // On the loop thread: calls made on this thread use these pools.
  void Enter();
  // The pools of the calling thread's worker, or null on any other thread.
  static WorkerUpstreams* Current();
  Pool& pool(size_t upstream) { return *pools_[upstream]; }

  void OnTurnEnd(int64_t now_ns);
  int64_t NextDeadlineNs() const;
  // On the loop thread, before it stops: every call still waiting gets UNAVAILABLE.
  void Shutdown();

 private:
  std::vector<std::unique_ptr<Pool>> pools_;
};

}  // namespace upstream
}  // namespace server

#endif  // SERVER_UPSTREAM_UPSTREAMS_H_
