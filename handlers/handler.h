// The handler plugin API: what the server calls for each request frame.
//
// A handler turns one request payload into one reply payload. The server owns the sockets and
// the framing; a handler sees only bytes. To write one, see docs/writing-a-handler.md:
//
//   class ReverseHandler : public handlers::Handler {
//    public:
//     absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
//       char* out = reply.AppendUninitialized(request.size());
//       std::reverse_copy(request.begin(), request.end(), out);
//       return absl::OkStatus();
//     }
//   };
//   REGISTER_HANDLER(reverse, "Returns each payload reversed.",
//                    [](const handlers::HandlerContext&) { return std::make_unique<ReverseHandler>(); });
//
// Threading contract:
//   - The server makes one Handler instance per connection, through the factory, on the worker
//     thread that owns the connection, and destroys it on that thread when the connection closes
//     (the destructor is the "connection closed" notice).
//   - Handle() is called on that same thread, one request at a time, in the order the requests
//     arrived. A handler may therefore keep per-connection state without locks.
//   - Anything shared between instances (a cache, a counter) is shared across worker threads and
//     must be thread-safe. Factories are called concurrently from several workers.
//   - Handle() runs on an event loop serving many connections: it must not block.
//
// Errors: returning a non-OK status (or throwing) discards what was appended to the reply and
// sends the client an error reply carrying the status (docs/protocol.md); the connection stays
// open and the failure is counted in the server's stats.
#ifndef HANDLERS_HANDLER_H_
#define HANDLERS_HANDLER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "protocol/buffer.h"

namespace handlers {

// Where a handler writes its reply payload: straight into the connection's output buffer, so a
// reply is never copied on its way to the socket.
class Reply {
 public:
  explicit Reply(protocol::Buffer* out) : out_(out), start_(out->size()) {}

  void Append(absl::string_view bytes) { out_->Append(bytes); }
  // Returns `n` bytes at the end of the reply for the handler to fill in.
  char* AppendUninitialized(size_t n) { return out_->AppendUninitialized(n); }
  size_t size() const { return out_->size() - start_; }

 private:
  protocol::Buffer* out_;  // the connection's; not owned
  size_t start_;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Appends the reply for `request` to `reply`, or returns an error (see the file comment).
  // `request` is valid only during the call.
  virtual absl::Status Handle(absl::string_view request, Reply& reply) = 0;
};

// One named statistic, e.g. {"frames_in", 42} or {"worker_active_connections{worker=\"0\"}", 3}.
struct Stat {
  std::string name;
  int64_t value = 0;
};

// The server's statistics, as the server chooses to publish them. Thread-safe.
class StatsSource {
 public:
  virtual ~StatsSource() = default;
  virtual std::vector<Stat> Snapshot() const = 0;
};

// What the server offers a handler when it makes one.
struct HandlerContext {
  const StatsSource* stats = nullptr;  // the server's; outlives every handler; may be null in tests
};

using HandlerFactory = std::function<std::unique_ptr<Handler>(const HandlerContext&)>;

}  // namespace handlers

#endif  // HANDLERS_HANDLER_H_
