// StatsHandler: replies to any request with the server's statistics, one "name value" line
// each, in the order the server lists them (docs/stats.md). The request payload is ignored.
#ifndef HANDLERS_STATS_STATS_H_
#define HANDLERS_STATS_STATS_H_

#include "handlers/handler.h"
#include "handlers/stats_source.h"

namespace handlers {

class StatsHandler : public Handler {
 public:
  explicit StatsHandler(const StatsSource* stats) : stats_(stats) {}
  absl::Status Handle(absl::string_view request, Reply& reply) override;

 private:
  const StatsSource* stats_;  // the server's; may be null when no server publishes stats
};

}  // namespace handlers

#endif  // HANDLERS_STATS_STATS_H_
