// Drainer: a worker's graceful stop.
//
// Once Begin() is called, the connections that owe nothing are closed at the end of every turn
// (the rest as soon as they are answered), and at the deadline every connection left gets an
// UNAVAILABLE reply for each request still waiting, what the socket takes of its output, and
// is closed. Not sooner than the end of the turn: on io_uring, bytes the kernel has already
// received for a connection may wait in a completion further on in the same batch, seen
// neither by its decoder nor by a peek at its socket; closing it then would drop requests it
// has sent (and reset it, cancelling the replies in flight).
//
//   Drainer drainer(id, &connections);
//   drainer.Begin(deadline_ns);
//   drainer.OnTurnEnd(now_ns);         // each turn
//   if (drainer.draining() && connections.empty()) stop the loop;
//
// Not thread-safe: the worker's loop thread.
#ifndef SERVER_WORKER_DRAINER_H_
#define SERVER_WORKER_DRAINER_H_

#include <cstdint>

#include "server/worker/connection_set.h"

namespace server {

class Drainer {
 public:
  Drainer(int worker_id, ConnectionSet* connections)
      : worker_id_(worker_id), connections_(*connections) {}

  void Begin(int64_t deadline_ns);
  bool draining() const { return draining_; }
  // While draining: closes the connections that are done, and at the deadline all of them.
  void OnTurnEnd(int64_t now_ns);
  int64_t NextDeadlineNs() const;

 private:
  void CloseAll();

  const int worker_id_;
  ConnectionSet& connections_;
  bool draining_ = false;
  int64_t deadline_ns_ = 0;
};

}  // namespace server

#endif  // SERVER_WORKER_DRAINER_H_
