// HandlerRegistry: the handlers linked into this binary, by name.
//
// A handler package registers itself with one line, run when the binary starts:
//
//   REGISTER_HANDLER(echo, "Returns each payload unchanged.", MakeEchoHandler);
//
// or, to say more than a name and a factory (every field but the factory is optional):
//
//   REGISTER_HANDLER_INFO(sleep, {
//       .description = "Sleeps for the requested milliseconds on a handler thread.",
//       .factory = MakeSleepHandler,
//       .start = StartSleep,                 // validate its flags, open resources, add counters
//       .drain = DrainSleep,                 // the server is stopping
//       .stop = nullptr,                     // every call has returned: close resources
//   });
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

// What a handler's start hook may use.
class StartContext {
 public:
  virtual ~StartContext() = default;
  // A counter shown in the server's stats as `handler_<handler>_<name>`; valid for the life of
  // the process. Call in the start hook only.
  virtual HandlerCounter* AddCounter(absl::string_view name) = 0;
  // The server-wide memory budget (handler.h, MemoryAccount); valid for the life of the process.
  // Null where there is none (a test's context).
  virtual MemoryAccount* memory_budget() { return nullptr; }
};

struct HandlerInfo {
  std::string name;
  std::string description;
  HandlerFactory factory;
  // Runs once at start-up, before the server listens, if this handler is served. An error
  // stops the server with exit status 2 and the status's message: name the flag at fault
  // ("--sleep_max_ms must be ..."), as the server's own flags do.
  std::function<absl::Status(StartContext&)> start;
  // Runs once at shutdown, after the workers stopped and before the server waits for calls
  // still running on handler threads: make those return soon (wake sleepers), flush.
  std::function<void()> drain;
  // Runs once at shutdown after the last call has returned: close what start opened.
  std::function<void()> stop;
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
bool RegisterAtStartup(const char* name, HandlerInfo info);
}  // namespace internal

}  // namespace handlers

// Registers a handler under `name` (an identifier, used as the --handler value).
#define REGISTER_HANDLER(name, help, ...) \
  REGISTER_HANDLER_INFO(name, {.description = help, .factory = __VA_ARGS__})

// Registers a handler under `name` with a braced HandlerInfo (its `name` field is set for you).
#define REGISTER_HANDLER_INFO(name, ...)                                     \
  [[maybe_unused]] static const bool handler_registered_##name##_ =          \
      ::handlers::internal::RegisterAtStartup(#name, ::handlers::HandlerInfo __VA_ARGS__)

#endif  // HANDLERS_REGISTRY_H_
