// Makes --handler=uppercase available in any binary that links //handlers/uppercase.
#include <memory>

#include "handlers/registry.h"
#include "handlers/uppercase/uppercase.h"

REGISTER_HANDLER(uppercase, "Returns each payload with ASCII a-z upper-cased.",
                 [](const handlers::HandlerContext&) {
                   return std::make_unique<handlers::UppercaseHandler>();
                 });
