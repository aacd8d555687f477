// The server's command-line flags (gflags), and their translation into ServerOptions. Every
// flag is checked by a gflags validator as it is parsed (common/cli.h: a bad value exits 2
// naming the flag), so OptionsFromFlags() cannot fail.
#ifndef SERVER_APP_FLAGS_H_
#define SERVER_APP_FLAGS_H_

#include <string>

#include "gflags/gflags.h"
#include "server/config/options.h"
#include "server/service/activation.h"

DECLARE_string(handler);
DECLARE_string(bind);
DECLARE_int32(port);
DECLARE_string(port_file);
DECLARE_int32(stats_port);
DECLARE_string(stats_handler);
DECLARE_string(stats_port_file);
DECLARE_int32(admin_port);
DECLARE_string(admin_port_file);
DECLARE_string(admin_bind);
DECLARE_int64(drain_delay_ms);
DECLARE_string(tls_cert);
DECLARE_string(tls_key);
DECLARE_string(tls_client_ca);

namespace server {

// The --handler default: set per binary by server_binary(default_handler = ...).
extern const char kDefaultHandler[];

ServerOptions OptionsFromFlags();

// The listening sockets passed by systemd (or a launcher like it), or none. Exits 2 naming
// what does not fit: a socket unnamed, unknown or twice, no `data` socket, or a port flag given
// as well.
service::ActivatedSockets ActivatedSocketsOrExit();

}  // namespace server

#endif  // SERVER_APP_FLAGS_H_
