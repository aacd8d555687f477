// Acceptor: the thread that accepts connections and hands each one on.
//
// It owns the listening sockets and runs its own event loop (common/event_loop.h). For each new
// connection it applies --max_connections (the excess gets an error reply and is closed at
// once, counted), sets TCP_NODELAY and passes the socket to the callback given at construction
// (the server picks a worker there). When the process runs out of descriptors (EMFILE) it sheds
// the pending connection with a reserve descriptor and pauses accepting briefly, so it never
// spins; each pause is counted.
//
//   Acceptor acceptor(options, &stats, [&](int fd, const ServedHandler* h) { ... });
//   acceptor.Start({{listen_fd, &echo}});
//   ...
//   acceptor.Stop();  // closes the listening sockets
#ifndef SERVER_ACCEPT_ACCEPTOR_H_
#define SERVER_ACCEPT_ACCEPTOR_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/event_loop.h"
#include "common/log_limiter.h"
#include "server/config/options.h"
#include "server/dispatch/served_handler.h"
#include "server/stats/stats.h"

namespace server {

class Acceptor {
 public:
  struct Listener {
    int fd;                        // listening socket; the acceptor closes it
    const ServedHandler* handler;  // for its connections; outlives the acceptor
  };
  // Takes ownership of the connected socket `fd`. Called on the acceptor's thread.
  using NewConnection = std::function<void(int fd, const ServedHandler* handler)>;

  // `stats` must outlive the acceptor.
  Acceptor(const ServerOptions& options, ServerStats* stats, NewConnection on_connection);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  absl::Status Start(std::vector<Listener> listeners);

  // Thread-safe. Accepts every connection already waiting in the listeners' queues, hands
  // each over, and returns once they are handed over. Shutdown calls it before the workers
  // drain: a client that connected before the signal is served, not reset by the kernel when
  // a listener closes with it still queued (or closed unread by a worker that has finished).
  void AcceptWaiting();
  // Thread-safe. Stops accepting, closes the listening sockets and joins the thread.
  void Stop();

 private:
  class ListenerWatcher;

  int64_t AfterTurn(int64_t now_ns);
  // Accepts up to `max_accepts` connections of `listener`.
  void AcceptFrom(const Listener& listener, int max_accepts);
  void Refuse(int fd);
  absl::Status SetListening(bool on);

  const ServerOptions options_;
  ServerStats* const stats_;  // not owned
  const NewConnection on_connection_;
  std::vector<Listener> listeners_;
  std::vector<std::unique_ptr<ListenerWatcher>> watchers_;
  common::EventLoop loop_;
  common::LogLimiter log_limiter_{10};  // client-provoked warnings: at most 10 lines a second
  int reserve_fd_ = -1;  // spare descriptor, released to shed a connection on EMFILE
  int64_t paused_until_ns_ = 0;  // 0: not paused
  std::thread thread_;
};

}  // namespace server

#endif  // SERVER_ACCEPT_ACCEPTOR_H_
