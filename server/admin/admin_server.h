// AdminServer: HTTP/1.1 for operators, on its own thread, never on a worker's loop.
//
//   GET /metrics   Prometheus text exposition 0.0.4 (server/admin/metrics.h)
//   GET /healthz   200 while the process serves
//   GET /readyz    200 while the server accepts; 503 from the moment a drain begins
//   GET /stats     the `name value` text of the stats handler (docs/stats.md)
//
// HTTP comes from cpp-httplib (Debian's libcpp-httplib-dev); this class only wires the pages.
//
//   AdminServer admin({.metrics = ..., .stats = ..., .ready = ...});
//   absl::StatusOr<int> port = admin.Start("127.0.0.1", 0);
//   ...
//   admin.Stop();
//
// Thread rule: Start() and Stop() from one thread; the page callbacks run on the admin thread
// and must be thread-safe.
#ifndef SERVER_ADMIN_ADMIN_SERVER_H_
#define SERVER_ADMIN_ADMIN_SERVER_H_

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
  };

  explicit AdminServer(Pages pages);
  ~AdminServer();  // Stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds `address` (an IPv4 or IPv6 literal) and `port` (0 picks one), then serves on its own
  // thread. Returns the bound port.
  absl::StatusOr<int> Start(const std::string& address, int port);
  void Stop();

 private:
  const Pages pages_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace server

#endif  // SERVER_ADMIN_ADMIN_SERVER_H_
