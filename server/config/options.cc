#include "server/config/options.h"

#include <algorithm>
#include <thread>

namespace server {

int WorkerCount(const ServerOptions& options) {
  if (options.workers > 0) return options.workers;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace server
