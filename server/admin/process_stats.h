// ProcessStats: facts about this process read from /proc, for the metrics page.
//
//   ProcessStats p = ReadProcessStats();
//   p.resident_bytes, p.cpu_seconds, p.open_fds
#ifndef SERVER_ADMIN_PROCESS_STATS_H_
#define SERVER_ADMIN_PROCESS_STATS_H_

#include <cstdint>

namespace server {

struct ProcessStats {
  int64_t resident_bytes = 0;  // RSS
  double cpu_seconds = 0;      // user + system
  int64_t open_fds = 0;
};

// Reads /proc/self; a field that cannot be read stays 0.
ProcessStats ReadProcessStats();

}  // namespace server

#endif  // SERVER_ADMIN_PROCESS_STATS_H_
