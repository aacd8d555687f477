// The server's command-line flags (gflags), and their translation into ServerOptions.
#ifndef SERVER_FLAGS_H_
#define SERVER_FLAGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "gflags/gflags.h"
#include "server/options.h"

DECLARE_string(handler);
DECLARE_string(bind);
DECLARE_int32(port);
DECLARE_string(port_file);
DECLARE_int32(stats_port);
DECLARE_string(stats_handler);
DECLARE_string(stats_port_file);

namespace server {

// Validates every flag; the error names the flag at fault.
absl::StatusOr<ServerOptions> OptionsFromFlags();

}  // namespace server

#endif  // SERVER_FLAGS_H_
