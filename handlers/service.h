// Service: what a handler shares between its connections, one object per server.
//
// A handler with nothing to share is a factory (REGISTER_HANDLER, registry.h). One that has
// flags to check, resources to open, counters, or work to stop at shutdown is a Service: the
// server makes one when it starts serving that handler, and it owns all of that, so no handler
// needs a global.
//
//   class SleepService : public handlers::Service {
//    public:
//     absl::Status Start(handlers::StartContext& context) override {
//       if (FLAGS_sleep_max_ms < 0) return absl::InvalidArgumentError("--sleep_max_ms must be ...");
//       sleeps_ = context.AddCounter("sleeps");
//       return absl::OkStatus();
//     }
//     std::unique_ptr<handlers::Handler> NewHandler(const handlers::HandlerContext&) override {
//       return std::make_unique<SleepHandler>(FLAGS_sleep_max_ms, sleeps_, &wakeup_);
//     }
//     void Drain() override { wakeup_.WakeAll(); }
//    private: ...
//   };
//   REGISTER_SERVICE(sleep, "Sleeps for the payload's milliseconds.", SleepService);
//
// Order: Start() once, before the server listens; NewHandler() per connection; Drain() once at
// shutdown, after the workers stopped and before the server waits for offloaded calls still
// running; Stop() once after the last call returned; then the service is destroyed.
#ifndef HANDLERS_SERVICE_H_
#define HANDLERS_SERVICE_H_

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "handlers/handler.h"
#include "handlers/upstream.h"

namespace handlers {

// What Service::Start may use.
class StartContext {
 public:
  virtual ~StartContext() = default;
  // A counter shown in the server's stats as `handler_<handler>_<name>`; valid for the life of
  // the process. Call in Start() only.
  virtual HandlerCounter* AddCounter(absl::string_view name) = 0;
  // A gauge shown the same way (a level that goes up and down); null where there is none (a
  // context that shows nothing). Call in Start() only.
  virtual HandlerGauge* AddGauge(absl::string_view name) {
    (void)name;
    return nullptr;
  }
  // The server-wide memory budget (handler.h, MemoryAccount); valid for the life of the process.
  // Null where there is none (a test's context).
  virtual MemoryAccount* memory_budget() { return nullptr; }
  // Another service the handlers call (upstream.h), valid for the life of the process. An
  // error names what is wrong with `options` (a backend that does not resolve, a bad balance);
  // returned from Start(), it stops the server with exit status 2. Call in Start() only.
  virtual absl::StatusOr<Upstream*> AddUpstream(const UpstreamOptions& options) {
    (void)options;
    return absl::UnimplementedError("this context offers no upstreams");
  }
};

class Service {
 public:
  virtual ~Service() = default;

  // Checks the handler's flags and opens what it needs. An error stops the server with exit
  // status 2 and the status's message: name the flag at fault ("--sleep_max_ms must be ..."),
  // as the server's own flags do.
  virtual absl::Status Start(StartContext& context) {
    (void)context;
    return absl::OkStatus();
  }
  // The handler instance for one connection. Called concurrently from several worker threads.
  virtual std::unique_ptr<Handler> NewHandler(const HandlerContext& context) = 0;
  // The server is stopping: make offloaded calls still running return soon (wake sleepers),
  // flush what is queued.
  virtual void Drain() {}
  // Every call has returned: close what Start() opened.
  virtual void Stop() {}
};

// The service of a handler registered with a factory alone: NewHandler() is the factory.
class FactoryService : public Service {
 public:
  explicit FactoryService(HandlerFactory factory) : factory_(std::move(factory)) {}
  std::unique_ptr<Handler> NewHandler(const HandlerContext& context) override {
    return factory_(context);
  }

 private:
  const HandlerFactory factory_;
};

}  // namespace handlers

#endif  // HANDLERS_SERVICE_H_
