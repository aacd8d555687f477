#include "handlers/stats/stats.h"

#include "absl/strings/str_cat.h"

namespace handlers {

absl::Status StatsHandler::Handle(absl::string_view, Reply& reply) {
  if (stats_ == nullptr) return absl::UnavailableError("no statistics are published here");
  for (const Stat& stat : stats_->Snapshot()) {
    reply.Append(absl::StrCat(stat.name, " ", stat.value, "\n"));
  }
  return absl::OkStatus();
}

}  // namespace handlers
