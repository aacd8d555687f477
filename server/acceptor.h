// Acceptor: the thread that accepts connections and hands each one to a worker.
//
// It owns the listening sockets. For each new connection it applies --max_connections (the
// excess gets an error reply and is closed at once, counted), sets TCP_NODELAY and hands the
// socket to the next worker in turn. When the process runs out of descriptors (EMFILE) it sheds
// the pending connection with a reserve descriptor and pauses accepting briefly, so it never
// spins; each pause is counted.
//
//   Acceptor acceptor(options, workers, &stats);
//   acceptor.Start({{listen_fd, &echo_factory}});
//   ...
//   acceptor.Stop();  // closes the listening sockets
#ifndef SERVER_ACCEPTOR_H_
#define SERVER_ACCEPTOR_H_

#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "handlers/handler.h"
#include "server/options.h"
#include "server/stats.h"
#include "server/worker.h"

namespace server {

class Acceptor {
 public:
  struct Listener {
    int fd;                                   // listening socket; the acceptor closes it
    const handlers::HandlerFactory* factory;  // for its connections; outlives the acceptor
  };

  // `workers` and `stats` must outlive the acceptor.
  Acceptor(const ServerOptions& options, std::vector<Worker*> workers, ServerStats* stats);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  absl::Status Start(std::vector<Listener> listeners);

  // Thread-safe. Stops accepting, closes the listening sockets and joins the thread.
  void Stop();

 private:
  void Run();
  void AcceptFrom(const Listener& listener);
  void Refuse(int fd);
  void SetListening(bool on);

  const ServerOptions options_;
  const std::vector<Worker*> workers_;  // not owned
  ServerStats* const stats_;            // not owned
  std::vector<Listener> listeners_;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;     // eventfd written by Stop()
  int reserve_fd_ = -1;  // spare descriptor, released to shed a connection on EMFILE
  size_t next_worker_ = 0;
  bool paused_ = false;
  std::thread thread_;
};

}  // namespace server

#endif  // SERVER_ACCEPTOR_H_
