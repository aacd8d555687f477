// Makes --handler=reverse available in any binary that links //handlers/reverse.
#include <memory>

#include "handlers/registry.h"
#include "handlers/reverse/reverse.h"

REGISTER_HANDLER(reverse, "Returns each payload with its bytes in reverse order.",
                 [](const handlers::HandlerContext&) {
                   return std::make_unique<handlers::ReverseHandler>();
                 });
