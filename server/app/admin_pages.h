// The admin port's pages for a running server: what each page reads, and what /logging and
// /reload change. main.cc makes them; server/admin serves them.
//
//   AdminServer admin(AdminPages(&server, &info, &ready, &reloader));
#ifndef SERVER_APP_ADMIN_PAGES_H_
#define SERVER_APP_ADMIN_PAGES_H_

#include <atomic>

#include "server/admin/admin_server.h"
#include "server/admin/metrics.h"
#include "server/app/server.h"
#include "server/app/tls_reloader.h"

namespace server {

// All must outlive the admin server.
AdminServer::Pages AdminPages(Server* server, const ServerInfo* info,
                              const std::atomic<bool>* ready, TlsReloader* reloader);

}  // namespace server

#endif  // SERVER_APP_ADMIN_PAGES_H_
