// Pool: one worker's connections to one upstream's backends, and the calls on them.
//
// A call picks a backend (the balancer, skipping ejected backends, those it already tried and
// those with no room), then a connection of that backend (Backends, backends.h); the rest of
// its batch (CallOptions::batch) in that turn follows it there while it has room, so that their
// replies come back together. Requests sent during a loop turn are written at its end, one
// write per connection, so many clients' calls share a few backend connections and few
// syscalls.
//
// What can go wrong, and what the pool does (docs/upstreams.md):
//   - a call's deadline passes: DEADLINE_EXCEEDED now; its reply, if it comes, is discarded
//     and counted; the backend is charged a failure;
//   - a connection fails (reset, end of stream, bad reply, connect refused or too slow): its
//     calls are retried on another backend if retryable (a request never sent always is),
//     within the retry budget, the attempt limit and the deadline; the others get UNAVAILABLE;
//   - what it holds (requests kept for a retry, its connections' buffers) is charged to the
//     server's memory budget at the end of each turn;
//   - with health_check_every, a probe frame goes to each backend that often; its answer takes
//     an ejected backend back at once, its failure counts as a call's would;
//   - N consecutive failures eject a backend (its connections closed, their calls retried as
//     above) for a backoff that grows; a failed connect waits a growing delay before the next.
//
//   Pool pool(&config, {&transports, max_frame_bytes}, &loop, seed);
//   pool.Call(request, {.timeout = absl::Seconds(1)}, std::move(done));
//   pool.OnTurnEnd(now_ns);  // writes, deadlines, answers, frees: after each loop turn
//   wake_at = std::min(wake_at, pool.NextDeadlineNs());
//
// Thread rule: its worker's loop thread only.
#ifndef SERVER_UPSTREAM_POOL_H_
#define SERVER_UPSTREAM_POOL_H_

#include <cstdint>
#include <memory>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/event_loop.h"
#include "handlers/upstream.h"
#include "server/upstream/backends.h"
#include "server/upstream/calls.h"
#include "server/upstream/policy/balancer.h"
#include "server/upstream/policy/retry_budget.h"
#include "server/upstream/upstream_config.h"
#include "server/upstream/upstream_connection.h"

namespace server {
namespace upstream {

class Pool : private UpstreamConnection::Owner {
 public:
  // `loop` is the worker's (its now_ns() is the time of every decision).
  Pool(const UpstreamConfig* config, const UpstreamConnection::Env& env, common::EventLoop* loop,
       uint64_t seed);
  ~Pool() override;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  void Call(absl::string_view request, const handlers::CallOptions& options,
            handlers::UpstreamCallback&& done);
  // After each loop turn: fails calls past their deadline, times out slow connects, writes
  // what the turn sent, answers calls that could not be placed, frees closed connections.
  void OnTurnEnd(int64_t now_ns);
  // When OnTurnEnd() must run next (0: at once, work is waiting).
  int64_t NextDeadlineNs() const;
  // Answers every call still waiting UNAVAILABLE and closes every connection.
  void Shutdown();

  size_t calls_waiting() const { return calls_.size(); }
  size_t connections(int backend) const { return backends_[backend].connections.size(); }
  bool ejected(int backend, int64_t now_ns) const {
    return backends_[backend].health.ejected(now_ns);
  }

 private:
  using PendingCall = Calls::Call;

  // UpstreamConnection::Owner.
  void OnConnected(UpstreamConnection* c) override { backends_.OnConnected(c); }
  void OnReply(UpstreamConnection* c, uint64_t call, const protocol::Frame& reply) override;
  void OnFailed(UpstreamConnection* c, UpstreamConnection::Failure failure,
                const absl::Status& why, std::deque<uint64_t> in_flight) override;

  // Sends `call` (`request`) to a backend, or answers it UNAVAILABLE (at the end of the turn).
  void Place(PendingCall& call, absl::string_view request, int64_t now_ns);
  // Sends `call` on `c`, a connection of `backend`.
  void Send(PendingCall& call, UpstreamConnection* c, int backend, absl::string_view request,
            int64_t now_ns);
  // Sends the health checks that are due (health_check_every; pool_health.cc).
  void CheckHealth(int64_t now_ns);
  // A connection is gone: its calls in flight are retried or failed with `why`.
  void Reroute(std::deque<uint64_t> calls, const absl::Status& why, bool never_sent,
               int64_t now_ns);
  // `c` is gone: nothing more is sent on it.
  void Forget(UpstreamConnection* c);
  // Fails the calls past their deadline.
  void ExpireDue(int64_t now_ns);
  // `call` is no longer on its connection (answered, failed, or past its deadline).
  void NotInFlight(PendingCall& call);
  // Counts a failure of `backend`; ejecting it closes its connections.
  void ChargeFailure(int backend, int64_t now_ns);
  // Answers call `id` now and forgets it.
  void Answer(uint64_t id, absl::StatusOr<std::string> reply);
  void Unplaced(uint64_t id, absl::Status why) { unplaced_.emplace_back(id, std::move(why)); }
  // Charges the budget what the pool holds now: requests kept, its connections' buffers.
  void ChargeHeld();

  const UpstreamConfig* const config_;
  const handlers::UpstreamOptions& options_;
  const UpstreamConnection::Env env_;
  common::EventLoop* const loop_;
  std::unique_ptr<Balancer> balancer_;
  RetryBudget budget_;
  Backends backends_;
  Calls calls_;
  std::vector<std::pair<uint64_t, absl::Status>> unplaced_;  // answered at the turn's end
  std::vector<UpstreamConnection*> unsent_;  // written at the turn's end
  std::vector<UpstreamConnection*> flushing_;  // unsent_ while it is written (OnTurnEnd)
  bool shut_down_ = false;  // calls from now on get UNAVAILABLE at once
  int64_t charged_ = 0;     // to env_.budget, as of the last turn's end
};

}  // namespace upstream
}  // namespace server

#endif  // SERVER_UPSTREAM_POOL_H_
