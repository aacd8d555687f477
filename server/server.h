// Server: the listening sockets, the acceptor thread and the pool of workers, assembled.
//
// The server knows handlers only through the factories it is given, one per listener; it never
// names one. main.cc picks them from the registry; tests may pass their own.
//
//   Server server(options);
//   server.AddListener({"127.0.0.1", 0, echo_factory});
//   CHECK_OK(server.Start());
//   int port = server.port(0);
//   ...
//   server.Shutdown();  // stop accepting, answer what was received, close; returns when done
#ifndef SERVER_SERVER_H_
#define SERVER_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "handlers/handler.h"
#include "server/options.h"
#include "server/stats.h"

namespace server {

class Acceptor;
class Worker;

class Server {
 public:
  struct ListenerSpec {
    std::string address;  // IPv4 or IPv6 literal
    int port = 0;         // 0 picks a free port
    handlers::HandlerFactory factory;
  };

  explicit Server(const ServerOptions& options);
  ~Server();  // shuts down if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Before Start().
  void AddListener(ListenerSpec spec);

  // Binds every listener and starts the workers and the acceptor.
  absl::Status Start();

  // The port listener `index` is bound to (after Start()).
  int port(int index) const { return ports_[index]; }

  const ServerStats& stats() const { return *stats_; }

  // Idempotent; call from one thread. Stops accepting, lets workers answer the frames they have, closes
  // idle connections at once and the rest at the shutdown grace deadline; returns when every
  // worker has finished.
  void Shutdown();

 private:
  const ServerOptions options_;
  std::unique_ptr<ServerStats> stats_;
  handlers::HandlerContext context_;
  std::vector<ListenerSpec> specs_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Acceptor> acceptor_;
  bool shut_down_ = false;
};

}  // namespace server

#endif  // SERVER_SERVER_H_
