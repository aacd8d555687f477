// ServedHandler: what a listener's connections are answered by, as the server sees a handler:
// how to make an instance and whether its calls may block.
#ifndef SERVER_SERVED_HANDLER_H_
#define SERVER_SERVED_HANDLER_H_

#include "handlers/handler.h"

namespace server {

struct ServedHandler {
  handlers::HandlerFactory factory;
  bool blocking = false;  // calls run on the handler threads (handlers/handler.h)
};

}  // namespace server

#endif  // SERVER_SERVED_HANDLER_H_
