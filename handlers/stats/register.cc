// Makes --handler=stats available in any binary that links //handlers/stats.
#include <memory>

#include "handlers/registry.h"
#include "handlers/stats/stats.h"

REGISTER_HANDLER(stats, "Returns the server's statistics as 'name value' lines.",
                 [](const handlers::HandlerContext& context) {
                   return std::make_unique<handlers::StatsHandler>(context.stats);
                 });
