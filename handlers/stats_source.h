// StatsSource: the server's statistics, for a handler that reports them (the `stats` handler).
// The server implements it; HandlerContext::stats points at its instance.
//
//   const handlers::StatsSource* stats = context.stats;   // in a factory; may be null
//   reply.Append(handlers::StatsText(stats->Snapshot())); // "frames_in 42\n..."
#ifndef HANDLERS_STATS_SOURCE_H_
#define HANDLERS_STATS_SOURCE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace handlers {

// One named statistic, e.g. {"frames_in", 42} or {"worker_active_connections{worker=\"0\"}", 3}.
struct Stat {
  std::string name;
  int64_t value = 0;
};

// The `name value` lines of docs/stats.md, one per statistic.
inline std::string StatsText(const std::vector<Stat>& stats) {
  std::string text;
  for (const Stat& stat : stats) {
    text.append(stat.name).append(" ").append(std::to_string(stat.value)).append("\n");
  }
  return text;
}

// The server's statistics, as the server chooses to publish them. Thread-safe.
class StatsSource {
 public:
  virtual ~StatsSource() = default;
  virtual std::vector<Stat> Snapshot() const = 0;
};

}  // namespace handlers

#endif  // HANDLERS_STATS_SOURCE_H_
