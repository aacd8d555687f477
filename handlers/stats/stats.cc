#include "handlers/stats/stats.h"

namespace handlers {

absl::Status StatsHandler::Handle(absl::string_view, Reply& reply) {
  if (stats_ == nullptr) return absl::UnavailableError("no statistics are published here");
  reply.Append(StatsText(stats_->Snapshot()));
  return absl::OkStatus();
}

}  // namespace handlers
