// StartedService: the service of a registered handler, started in this process as a server
// would start it, for the handler kit's fuzz target (handler_test_suite.bzl).
//
//   auto started = StartedService::Start("kv", "--kv_path={tmp} --kv_sync=false").value();
//   std::unique_ptr<handlers::Handler> handler = started->service().NewHandler({});
//
// `flags` are the handler's own, applied before Start(); "{tmp}" in them becomes a directory
// made for this service and removed with it. Not thread-safe (flags are process-wide).
#ifndef HANDLER_KIT_STARTED_SERVICE_H_
#define HANDLER_KIT_STARTED_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "handlers/handler_testing.h"
#include "handlers/service.h"

namespace handler_kit {

class StartedService {
 public:
  static absl::StatusOr<std::unique_ptr<StartedService>> Start(absl::string_view name,
                                                               absl::string_view flags);
  // Drains and stops the service, then removes its directory.
  ~StartedService();

  handlers::Service& service() { return *service_; }

 private:
  StartedService() = default;

  std::string directory_;
  handlers::TestStartContext context_;
  std::unique_ptr<handlers::Service> service_;
};

}  // namespace handler_kit

#endif  // HANDLER_KIT_STARTED_SERVICE_H_
