// Backends: one worker's connections to each backend of one upstream, with each backend's
// health (ejection) and reconnect backoff. The Pool decides where a call goes; Backends owns
// what it goes on.
//
// A backend has room when one of its connections carries fewer than max_pipelined calls, or
// it may open another (fewer than max_connections_per_backend, and its reconnect delay over).
// A connection is opened only when the least busy one carries many calls: a few connections
// carry many clients' calls, yet one slow reply does not hold up everything. A connection
// that is gone is kept until its transport is idle (the kernel may still hold its buffers).
// The calls of one batch (CallOptions::batch) made in one turn follow each other onto one
// connection while a call may go there, so their replies come back together.
//
//   Backends backends(&config, &env, &owner, seed);
//   if (backends.HasRoom(b, now)) c = backends.ConnectionFor(b, now);  // null: connect failed
//   backends.Forget(c);          // it failed or was closed: freed by FreeIdle() once idle
//   backends.TimeOutConnects(now);  // connects slower than connect_timeout fail
//
// Thread rule: its worker's loop thread only.
#ifndef SERVER_UPSTREAM_BACKENDS_H_
#define SERVER_UPSTREAM_BACKENDS_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "server/upstream/policy/ejection.h"
#include "server/upstream/upstream_config.h"
#include "server/upstream/upstream_connection.h"

namespace server {
namespace upstream {

class Backends {
 public:
  struct Backend {
    Backend(const Ejection::Options& eject, const handlers::UpstreamOptions& o, uint64_t seed)
        : health(eject), reconnect(o.reconnect_base, o.reconnect_max, seed) {}
    Ejection health;
    Backoff reconnect;
    int64_t next_connect_ns = 0;  // no connect before this (after a failed one)
    int in_flight = 0;            // calls on its connections
    int64_t next_check_ns = 0;    // the next active health check (health_check_every)
    bool checking = false;        // a health check is in flight
    std::vector<UpstreamConnection*> connections;  // open or connecting
    std::vector<std::pair<UpstreamConnection*, int64_t>> connecting;  // and their deadline
  };

  // `owner` hears every connection's events (the Pool).
  Backends(const UpstreamConfig* config, const UpstreamConnection::Env* env,
           UpstreamConnection::Owner* owner, uint64_t seed);

  int size() const { return static_cast<int>(backends_.size()); }
  Backend& operator[](int backend) { return backends_[backend]; }
  const Backend& operator[](int backend) const { return backends_[backend]; }

  // Whether `backend` can take one more call now. `probe`: for a health check, which may open
  // a connection during the reconnect delay (the checks' own period bounds how often); calls
  // do not use such a connection until it has connected.
  bool HasRoom(int backend, int64_t now_ns, bool probe = false) const;
  // The connection of `backend` to send on (opened if needed), or none: no room, or a connect
  // refused at once (`refused`; counted by ConnectFailed()). Where HasRoom() says yes, only a
  // refusal leaves it without one.
  struct Chosen {
    UpstreamConnection* connection = nullptr;
    bool refused = false;
  };
  Chosen ConnectionFor(int backend, int64_t now_ns, bool probe = false);
  // `c` connected: its connect is no longer timed, its backend's backoff starts over.
  void OnConnected(UpstreamConnection* c);
  // A connect to `backend` failed: counted, and the next one waits a growing delay.
  void ConnectFailed(int backend, int64_t now_ns);
  // A connection of `backend` failed: counted by kind (a connect's as ConnectFailed()).
  void Failed(int backend, UpstreamConnection::Failure failure, int64_t now_ns);
  // `c` is gone (failed or closed): no call goes to it again; freed once its I/O is idle.
  void Forget(UpstreamConnection* c);

  // Batches (CallOptions::batch): the connection the turn's last call of `batch` (nonzero) went
  // on, if a call may still go there (Usable(), and its backend not ejected); null otherwise.
  UpstreamConnection* BatchConnection(uint64_t batch, int64_t now_ns) const;
  // The turn's last call of `batch` went on `c` (null: on none).
  void SetBatch(uint64_t batch, UpstreamConnection* c) { batch_ = {batch, c}; }
  // The turn is over: the next calls are balanced afresh.
  void EndBatch() { batch_ = {}; }
  // Fails the connects that took longer than connect_timeout (the owner hears OnFailed).
  void TimeOutConnects(int64_t now_ns);
  // The earliest connect deadline, or `next` if sooner.
  int64_t NextConnectDeadlineNs(int64_t next) const;

  // Frees the connections that are gone and idle.
  void FreeIdle();
  // Some connection that is gone waits for its I/O to end (FreeIdle() has work).
  bool waiting_to_free() const { return !closed_.empty(); }
  // Memory the connections hold (open and gone).
  int64_t held_bytes() const;
  // Closes every connection without telling the owner.
  void CloseAll();

 private:
  // Whether a call (or a probe) may go on `c`, connected or connecting, of `b`.
  bool Usable(const Backend& b, const UpstreamConnection* c, int64_t now_ns, bool probe) const;
  // Whether `b` may open another connection now.
  bool MayOpen(const Backend& b, int64_t now_ns, bool probe) const;
  static void StopTimingConnect(Backend& b, UpstreamConnection* c);

  const UpstreamConfig* const config_;
  const UpstreamConnection::Env* const env_;
  UpstreamConnection::Owner* const owner_;
  std::vector<Backend> backends_;
  std::vector<std::unique_ptr<UpstreamConnection>> owned_;
  std::vector<std::unique_ptr<UpstreamConnection>> closed_;  // freed once io_idle()
  struct {
    uint64_t id = 0;
    UpstreamConnection* connection = nullptr;  // open: Forget() and CloseAll() clear it
  } batch_;
};

}  // namespace upstream
}  // namespace server

#endif  // SERVER_UPSTREAM_BACKENDS_H_
