// PrometheusText: the server's statistics in Prometheus's text exposition format 0.0.4.
//
// Every family has # HELP and # TYPE lines; counters end in _total; request latency is a
// histogram (_bucket{le=...}, _sum, _count) that sums across workers and servers; per-worker
// series carry a `worker` label, handler counters a `handler` label, upstream series an
// `upstream` label and, per backend, a `backend` label. docs/operations.md lists
// every metric.
//
//   std::string page = PrometheusText(stats, info, ReadProcessStats());
#ifndef SERVER_ADMIN_METRICS_H_
#define SERVER_ADMIN_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/admin/process_stats.h"
#include "server/stats/stats.h"
#include "server/upstream/upstreams.h"

namespace server {

// What the metrics page says about this build and its configuration.
struct ServerInfo {
  std::string version;
  double start_time_seconds = 0;  // since the Unix epoch
  std::vector<std::pair<std::string, std::string>> config;  // e.g. {"handler", "echo"}
  std::vector<std::pair<std::string, int64_t>> limits;      // e.g. {"max_connections", 10000}
};

// `upstreams` (may be null): the services' upstreams, per upstream and backend.
std::string PrometheusText(const ServerStats& stats, const ServerInfo& info,
                           const ProcessStats& process,
                           const upstream::Upstreams* upstreams = nullptr);

}  // namespace server

#endif  // SERVER_ADMIN_METRICS_H_
