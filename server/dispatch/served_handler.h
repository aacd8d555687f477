// ServedHandler: how a listener's connections are served, as the server sees it: how to make a
// handler instance, and whether the connections speak TLS.
#ifndef SERVER_DISPATCH_SERVED_HANDLER_H_
#define SERVER_DISPATCH_SERVED_HANDLER_H_

#include "handlers/handler.h"
#include "tls/context.h"

namespace server {

struct ServedHandler {
  handlers::HandlerFactory factory;
  const tls::Context* tls = nullptr;  // TLS settings (not owned); null for plain text
};

}  // namespace server

#endif  // SERVER_DISPATCH_SERVED_HANDLER_H_
