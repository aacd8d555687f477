// ConnectionSet: the connections a worker owns, and their deferred delete.
//
// A connection that closes during a loop turn may still be named by later events of the same
// turn (the rest of the epoll batch, completions): Remove() only moves it aside, and
// FreeClosed(), at the end of the turn, frees it; on io_uring, only once the kernel holds no
// operation of its (its buffers are released at once). The worker's lists of connections are
// intrusive (Connection::Hooks): a connection leaves them when it is destroyed, so none can
// name a freed one.
//
//   ConnectionSet set;
//   Connection* c = set.Add(std::make_unique<Connection>(...));
//   set.Remove(c);                // it has closed
//   set.FreeClosed();             // end of the turn
//
// Not thread-safe: the worker's loop thread.
#ifndef SERVER_WORKER_CONNECTION_SET_H_
#define SERVER_WORKER_CONNECTION_SET_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/net/connection.h"

namespace server {

class ConnectionSet {
 public:
  Connection* Add(std::unique_ptr<Connection> c);
  // `c` has closed: freed by FreeClosed(), not before.
  void Remove(Connection* c);
  // The end of the turn: frees what closed during it, and what closed earlier whose transport
  // has since become idle. Returns how many closed connections it found.
  int FreeClosed();

  // Open connections.
  size_t size() const { return open_.size(); }
  // No connection is left, open or waiting to be freed.
  bool empty() const { return open_.empty() && closed_.empty() && closing_.empty(); }
  // The open connections, for loops that may close some.
  std::vector<Connection*> Snapshot() const;
  // The largest output waiting among the open connections.
  size_t LargestPendingOutput() const;

 private:
  absl::flat_hash_map<Connection*, std::unique_ptr<Connection>> open_;
  std::vector<std::unique_ptr<Connection>> closed_;   // this turn
  // Closed, but the kernel still holds operations of theirs (io_uring).
  std::vector<std::unique_ptr<Connection>> closing_;
};

}  // namespace server

#endif  // SERVER_WORKER_CONNECTION_SET_H_
