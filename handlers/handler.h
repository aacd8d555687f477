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
// Three ways to answer:
//   - At once (the fast path): append to `reply` and return. No allocation, no thread hop.
//   - Later: `Completion done = reply.Defer();` then, from any thread, exactly once,
//     `done.Finish(payload)` or `done.Fail(status)`. Replies still leave in request order.
//   - Blocking: register with `.blocking = true` (registry.h). Handle() then runs on one of the
//     server's handler threads (--handler_threads), never on a worker's event loop, and may
//     block (a database, a remote call, a sleep). Such a handler may also answer what needs no
//     wait on the loop, through HandleWithoutBlocking() (the kv handler's cached GETs).
//
// Threading contract:
//   - The server makes one Handler instance per connection, through the factory, on the worker
//     thread that owns the connection, and destroys it when the connection has closed and no
//     call of it is queued or running (the destructor is the "connection closed" notice; for
//     a blocking handler it may run on a handler thread: docs/writing-a-handler.md).
//   - A non-blocking handler's Handle() is called on that worker thread, one request at a time,
//     in arrival order: per-connection state needs no lock. It must not block.
//   - A blocking handler's Handle() runs on handler threads, one request of a connection at a
//     time and in arrival order (a pipelining client's SET then GET reads its own write); calls
//     of one instance may come from different threads, but never at once, so per-connection
//     state still needs no lock. Other connections' calls run in parallel.
//   - Anything shared between instances (a cache, a counter) must be thread-safe. Factories are
//     called concurrently from several workers.
//
// Errors: returning a non-OK status (or throwing) discards what was appended to the reply and
// sends the client an error reply carrying the status (docs/protocol.md); the connection stays
// open and the failure is counted in the server's stats.
#ifndef HANDLERS_HANDLER_H_
#define HANDLERS_HANDLER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "protocol/buffer.h"

namespace handlers {

// Where a later answer goes: implemented by the server (and by tests).
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  // Any thread. `status` OK: `payload` is the reply; otherwise an error reply is sent.
  virtual void Complete(uint64_t request, absl::Status status, std::string payload,
                        bool close_after) = 0;
};

// The promise of one reply, made by Reply::Defer(). Move-only; finish it exactly once, from any
// thread. One destroyed unfinished answers the client with an INTERNAL error reply, so a request
// is never left without its answer. A completion that arrives after its connection closed, timed
// out (--handler_timeout_ms) or the server stopped is discarded and counted.
class Completion {
 public:
  Completion() = default;
  Completion(std::shared_ptr<CompletionSink> sink, uint64_t request)
      : sink_(std::move(sink)), request_(request) {}
  Completion(Completion&&) = default;
  Completion& operator=(Completion&& other) {
    if (this != &other) {
      Abandon();
      sink_ = std::move(other.sink_);
      request_ = other.request_;
      close_after_ = other.close_after_;
    }
    return *this;
  }
  ~Completion() { Abandon(); }

  void Finish(std::string payload) { Send(absl::OkStatus(), std::move(payload)); }
  void Fail(absl::Status status) { Send(std::move(status), std::string()); }
  // The server closes the connection once this reply is written.
  void CloseAfterReply() { close_after_ = true; }

 private:
  void Send(absl::Status status, std::string payload) {
    if (sink_ == nullptr) return;  // finished already
    std::shared_ptr<CompletionSink> sink = std::move(sink_);
    sink->Complete(request_, std::move(status), std::move(payload), close_after_);
  }
  void Abandon() {
    if (sink_ != nullptr) Fail(absl::InternalError("the handler dropped the request unanswered"));
  }

  std::shared_ptr<CompletionSink> sink_;
  uint64_t request_ = 0;
  bool close_after_ = false;
};

// What the server lets Reply::Defer() do; implemented by the server (and by tests).
class Deferrer {
 public:
  virtual ~Deferrer() = default;
  virtual Completion Defer() = 0;
};

// Where a handler writes its reply payload: straight into the connection's output buffer, so a
// reply is never copied on its way to the socket.
class Reply {
 public:
  explicit Reply(protocol::Buffer* out, Deferrer* deferrer = nullptr)
      : out_(out), start_(out->size()), deferrer_(deferrer) {}

  void Append(absl::string_view bytes) { out_->Append(bytes); }
  // Returns `n` bytes at the end of the reply for the handler to fill in.
  char* AppendUninitialized(size_t n) { return out_->AppendUninitialized(n); }
  size_t size() const { return out_->size() - start_; }

  // The server closes the connection once this reply is written.
  void CloseAfterReply() { close_after_ = true; }
  bool close_after() const { return close_after_; }

  // Answers this request later, through the returned Completion; Handle() then returns OK and
  // anything appended here is discarded. Without a deferrer (a unit test calling Handle()
  // directly) the completion answers nothing.
  Completion Defer() {
    deferred_ = true;
    return deferrer_ != nullptr ? deferrer_->Defer() : Completion();
  }
  bool deferred() const { return deferred_; }

 private:
  protocol::Buffer* out_;  // the connection's; not owned
  size_t start_;
  Deferrer* deferrer_;     // not owned; may be null
  bool close_after_ = false;
  bool deferred_ = false;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Appends the reply for `request` to `reply`, or returns an error (see the file comment).
  // `request` is valid only during the call.
  virtual absl::Status Handle(absl::string_view request, Reply& reply) = 0;

  // Blocking handlers only: a chance to answer on the worker's loop, skipping the thread hop,
  // when the answer needs no wait (a cache hit). Answer through `reply` (at once, or with
  // Defer()) and return true; or return false, having appended nothing, and Handle() runs on a
  // handler thread instead. Must not block. The server calls it only while none of this
  // connection's calls is queued or running on the handler threads, so calls still happen one
  // at a time and in arrival order. The default always declines.
  virtual absl::StatusOr<bool> HandleWithoutBlocking(absl::string_view request, Reply& reply) {
    (void)request;
    (void)reply;
    return false;
  }
};

// One named statistic, e.g. {"frames_in", 42} or {"worker_active_connections{worker=\"0\"}", 3}.
struct Stat {
  std::string name;
  int64_t value = 0;
};

// The `name value` lines of docs/stats.md, one per statistic.
inline std::string StatsText(const std::vector<Stat>& stats) {
  std::string text;
  for (const Stat& stat : stats) {
    text.append(stat.name).append(" ").append(std::to_string(stat.value)).append("\n");
  }
  return text;
}

// The server's statistics, as the server chooses to publish them. Thread-safe.
class StatsSource {
 public:
  virtual ~StatsSource() = default;
  virtual std::vector<Stat> Snapshot() const = 0;
};

// A counter a handler registers at start-up (registry.h); it appears in the server's stats as
// `handler_<handler>_<name>`. Add() from any thread.
class HandlerCounter {
 public:
  void Add(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// The server-wide memory budget (--max_buffer_memory, docs/RELIABILITY.md), for a handler that
// keeps copies of requests beyond the call (a queue of its own): charged, they count with the
// server's buffers. Offered to the start hook (registry.h, StartContext). Thread-safe.
class MemoryAccount {
 public:
  virtual ~MemoryAccount() = default;
  // Charges `bytes` and returns true if the budget's total stays within the handlers' share
  // (half the limit: the rest is the connections', which eviction can free); otherwise charges
  // nothing and returns false (the handler refuses or waits).
  virtual bool TryCharge(int64_t bytes) = 0;
  // Gives back `bytes` charged by TryCharge.
  virtual void Release(int64_t bytes) = 0;
};

// The connection a handler instance serves.
struct ConnectionInfo {
  uint64_t id = 0;    // unique in this server process, from 1
  std::string peer;   // "127.0.0.1:51234" or "[::1]:51234"
  std::string local;  // the server's address of this connection
  // On a TLS listener (docs/tls.md): the handler is made after the handshake, so these are known.
  bool tls = false;
  // The client certificate's subject in RFC 2253 form, most specific last
  // ("O=Example,CN=client-1"); empty if it sent none.
  std::string peer_certificate_subject;
};

// What the server offers a handler when it makes one.
struct HandlerContext {
  const StatsSource* stats = nullptr;  // the server's; outlives every handler; may be null in tests
  ConnectionInfo connection;
};

using HandlerFactory = std::function<std::unique_ptr<Handler>(const HandlerContext&)>;

}  // namespace handlers

#endif  // HANDLERS_HANDLER_H_
