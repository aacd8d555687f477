// Makes --handler=echo available in any binary that links //handlers/echo.
#include <memory>

#include "handlers/echo/echo.h"
#include "handlers/registry.h"

REGISTER_HANDLER(echo, "Returns each payload unchanged.",
                 [](const handlers::HandlerContext&) {
                   return std::make_unique<handlers::EchoHandler>();
                 });
