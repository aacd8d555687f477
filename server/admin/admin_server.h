// AdminServer: HTTP/1.1 for operators, on its own thread, never on a worker's loop.
//
//   GET  /metrics        Prometheus text exposition 0.0.4 (server/admin/metrics.h)
//   GET  /healthz        200 while the process serves
//   GET  /readyz         200 while the server accepts; 503 from the moment a drain begins
//   GET  /stats          the `name value` text of the stats handler (docs/stats.md);
//                        ?format=json: one JSON object
//   GET  /connections    one line per open connection (?limit=N, default 1000;
//                        ?format=json: JSON objects), each gathered on its worker's thread
//   GET  /flags          every flag's current value
//   GET  /logging        the glog verbosity (--v); POST /logging?v=N changes it
//   POST /reload         reloads the TLS certificate, key and client CA (as SIGHUP does)
//
// What changes state answers POST only (405 otherwise). HTTP comes from cpp-httplib (Debian's
// libcpp-httplib-dev); this class only wires the pages.
//
//   AdminServer admin({.metrics = ..., .stats = ..., .ready = ..., ...});
//   absl::StatusOr<int> port = admin.Start("127.0.0.1", 0);   // or StartOn(activated_fd)
//   ...
//   admin.Stop();
//
// Thread rule: Start() and Stop() from one thread; the page callbacks run on the admin thread
// and must be thread-safe. A callback left empty makes its page answer 404.
#ifndef SERVER_ADMIN_ADMIN_SERVER_H_
#define SERVER_ADMIN_ADMIN_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace server {

class AdminServer {
 public:
  struct Pages {
    std::function<std::string()> metrics;
    std::function<std::string()> stats;
    std::function<bool()> ready;
    std::function<std::string(size_t limit, bool json)> connections;
    std::function<std::string()> flags;
    std::function<int()> verbosity;
    std::function<absl::Status(int)> set_verbosity;
    std::function<absl::Status()> reload;
  };

  explicit AdminServer(Pages pages);
  ~AdminServer();  // Stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds `address` (an IPv4 or IPv6 literal) and `port` (0 picks one), then serves on its own
  // thread. Returns the bound port.
  absl::StatusOr<int> Start(const std::string& address, int port);
  // Serves on a listening socket already made (socket activation). The socket is closed at
  // Stop() but never shut down: the process that passed it may pass it on.
  absl::Status StartOn(int listening_fd);
  void Stop();

 private:
  class Http;
  void Route();
  void Serve();

  const Pages pages_;
  std::unique_ptr<Http> http_;
  int adopted_fd_ = -1;
  std::thread thread_;
};

}  // namespace server

#endif  // SERVER_ADMIN_ADMIN_SERVER_H_
