// HandlerRegistry: the handlers linked into this binary, by name.
//
// A handler package registers itself with one line, run when the binary starts. A handler with
// nothing to share between connections gives a factory:
//
//   REGISTER_HANDLER(echo, "Returns each payload unchanged.", MakeEchoHandler);
//
// one with flags, resources, counters or shutdown work gives its Service type (service.h),
// made once per server:
//
//   REGISTER_SERVICE(sleep, "Sleeps for the payload's milliseconds.", handlers::SleepService);
//
// Its BUILD target is `alwayslink = True`, so the linker keeps that line even though no code
// refers to it. The server then looks handlers up by the name given in --handler:
//
//   const handlers::HandlerInfo* info = handlers::HandlerRegistry::Global().Find("echo");
//   std::unique_ptr<handlers::Service> service = info->new_service();
//
// Thread rule: registration happens before main() (static initialisation) or in tests; lookups
// are thread-safe.
#ifndef HANDLERS_REGISTRY_H_
#define HANDLERS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "handlers/handler.h"
#include "handlers/service.h"

namespace handlers {

struct HandlerInfo {
  std::string name;
  std::string description;
  // Makes the handler's service, once per server that serves it.
  std::function<std::unique_ptr<Service>()> new_service;
};

class HandlerRegistry {
 public:
  // The registry REGISTER_HANDLER and REGISTER_SERVICE add to.
  static HandlerRegistry& Global();

  // Adds a handler. AlreadyExists if the name is taken (the first registration stays);
  // InvalidArgument for an empty name or no service.
  absl::Status Register(HandlerInfo info);

  // Returns the handler called `name`, or null.
  const HandlerInfo* Find(absl::string_view name) const;

  // Registered names, sorted.
  std::vector<std::string> Names() const;

  // OK, or the first failed registration (such as a duplicate name). Registration runs before
  // main() where nobody can act on an error, so the server checks this at start-up instead.
  absl::Status status() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, HandlerInfo, std::less<>> handlers_;
  absl::Status status_;
};

namespace internal {
// Register with the global registry and record any failure there; used by the macros.
bool RegisterHandlerAtStartup(const char* name, const char* help, HandlerFactory factory);
bool RegisterServiceAtStartup(const char* name, const char* help,
                              std::function<std::unique_ptr<Service>()> new_service);
}  // namespace internal

}  // namespace handlers

// Registers a handler made by a factory under `name` (an identifier, used as the --handler
// value).
#define REGISTER_HANDLER(name, help, ...)                                    \
  [[maybe_unused]] static const bool handler_registered_##name##_ =          \
      ::handlers::internal::RegisterHandlerAtStartup(#name, help,            \
                                                     ::handlers::HandlerFactory(__VA_ARGS__))

// Registers a handler whose connections share a service of type `ServiceType` (default
// constructible), made once per server.
#define REGISTER_SERVICE(name, help, ServiceType)                                         \
  [[maybe_unused]] static const bool handler_registered_##name##_ =                       \
      ::handlers::internal::RegisterServiceAtStartup(                                     \
          #name, help, []() -> std::unique_ptr<::handlers::Service> {                     \
            return std::make_unique<ServiceType>();                                       \
          })

#endif  // HANDLERS_REGISTRY_H_
