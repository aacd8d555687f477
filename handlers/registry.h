// HandlerRegistry: the handlers linked into this binary, by name.
//
// A handler package registers itself with one line, run when the binary starts:
//
//   REGISTER_HANDLER(echo, "Returns each payload unchanged.", MakeEchoHandler);
//
// and its BUILD target is `alwayslink = True`, so the linker keeps that line even though no code
// refers to it. The server then looks handlers up by the name given in --handler:
//
//   const handlers::HandlerInfo* info = handlers::HandlerRegistry::Global().Find("echo");
//
// Thread rule: registration happens before main() (static initialisation) or in tests; lookups
// are thread-safe.
#ifndef HANDLERS_REGISTRY_H_
#define HANDLERS_REGISTRY_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "handlers/handler.h"

namespace handlers {

struct HandlerInfo {
  std::string name;
  std::string description;
  HandlerFactory factory;
};

class HandlerRegistry {
 public:
  // The registry REGISTER_HANDLER adds to.
  static HandlerRegistry& Global();

  // Adds a handler. AlreadyExists if the name is taken (the first registration stays);
  // InvalidArgument for an empty name or a null factory.
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
// Registers with the global registry and records any failure there; used by REGISTER_HANDLER.
bool RegisterAtStartup(const char* name, const char* description, HandlerFactory factory);
}  // namespace internal

}  // namespace handlers

// Registers a handler under `name` (an identifier, used as the --handler value).
#define REGISTER_HANDLER(name, description, factory)                      \
  [[maybe_unused]] static const bool handler_registered_##name##_ =       \
      ::handlers::internal::RegisterAtStartup(#name, description, factory)

#endif  // HANDLERS_REGISTRY_H_
