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
// One way to answer, three speeds. Handle() always runs on the worker thread that owns the
// connection, and must not block; it answers
//   - at once (the fast path): append to `reply` and return. No allocation, no thread hop;
//   - later: `Completion done = reply.Defer();` then, from any thread, exactly once,
//     `done.Finish(payload)` or `done.Fail(status)`;
//   - on a handler thread: `reply.Offload(call)`. `call(request, reply)` then runs on one of the
//     server's handler threads (--handler_threads), where it may block (a database, a remote
//     call, a sleep), and answers as Handle() would: append to its `reply`, or return an error.
// Replies leave in request order whichever way each was answered.
//
// Threading contract:
//   - The server makes one Handler instance per connection, through the factory, on the worker
//     thread that owns the connection, and destroys it when the connection has closed and no
//     offloaded call of it is still running (the destructor is the "connection closed" notice;
//     after an offloaded call it may run on a handler thread).
//   - Handle() and the offloaded calls of one instance run one at a time, in arrival order:
//     while a connection has a call offloaded, its later requests wait behind it (a pipelining
//     client's SET then GET reads its own write). Per-connection state needs no lock.
//   - Anything shared between instances (a cache, a counter) must be thread-safe. Factories are
//     called concurrently from several workers.
//
// Errors: returning a non-OK status (or throwing) discards what was appended to the reply and
// sends the client an error reply carrying the status (docs/protocol.md); the connection stays
// open and the failure is counted in the server's stats.
//
// Misuse fails loudly, never with an empty reply: answering one request two ways (Defer() or
// Offload() twice, or with bytes appended too), Defer() or Offload() inside an offloaded call,
// finishing a Completion twice, or dropping one unfinished. A debug build stops with a CHECK
// failure naming it; a release build answers the request with an INTERNAL error reply (where it
// still can) and counts it in `handler_misuse` (docs/stats.md).
#ifndef HANDLERS_HANDLER_H_
#define HANDLERS_HANDLER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "protocol/buffer.h"

namespace handlers {

class Reply;

namespace internal {
class Answers;     // the server's side of a connection's later answers (handlers/answers.h)
class AnswerSink;  // where one later answer goes (handlers/answers.h)
class ReplyState;  // what the server reads of a Reply (handlers/answers.h)
}  // namespace internal

// What Reply::Offload() runs on a handler thread: answers `request` (the server's copy, valid
// for the call) through `reply`, or returns an error, as Handle() would.
using OffloadedCall = absl::AnyInvocable<absl::Status(absl::string_view request, Reply& reply)>;

// The promise of one reply, made by Reply::Defer(). Move-only; finish it exactly once, from any
// thread. A completion that arrives after its connection closed, timed out
// (--handler_timeout_ms) or the server stopped is discarded and counted.
class Completion {
 public:
  Completion() = default;
  Completion(Completion&& other) noexcept;
  Completion& operator=(Completion&& other) noexcept;
  // Destroyed unfinished: misuse (see the file comment); the client gets an INTERNAL error.
  ~Completion();

  void Finish(std::string payload);
  void Fail(absl::Status status);
  // The server closes the connection once this reply is written.
  void CloseAfterReply() { bits_ |= kCloseAfter; }

 private:
  friend class internal::Answers;
  friend class Reply;  // reads the place of the completion it made
  // Two words, so that a callback capturing a Completion is stored without an allocation: the
  // request's place, with the two flags in its top bits (places are counted from 0 per
  // connection, far below 2^62).
  static constexpr uint64_t kCloseAfter = uint64_t{1} << 63;
  static constexpr uint64_t kFinished = uint64_t{1} << 62;
  Completion(internal::AnswerSink* sink, uint64_t request);  // takes a reference to `sink`
  uint64_t request() const { return bits_ & ~(kCloseAfter | kFinished); }
  void Send(absl::Status status, std::string payload);

  internal::AnswerSink* sink_ = nullptr;  // a reference held; null: inert, or moved from
  uint64_t bits_ = 0;
};

// Where a handler writes its reply payload: straight into the connection's output buffer, so a
// reply is never copied on its way to the socket.
class Reply {
 public:
  // A reply with no server behind it, for calling Handle() directly in a unit test: Defer()
  // gives a completion that answers nothing. handler_testing.h runs a handler as the server
  // does, later answers and offloaded calls included.
  explicit Reply(protocol::Buffer* out) : Reply(out, nullptr, /*offloaded=*/false) {}
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;

  void Append(absl::string_view bytes) { out_->Append(bytes); }
  // Returns `n` bytes at the end of the reply for the handler to fill in.
  char* AppendUninitialized(size_t n) { return out_->AppendUninitialized(n); }
  size_t size() const { return out_->size() - start_; }

  // The server closes the connection once this reply is written.
  void CloseAfterReply() { close_after_ = true; }

  // Answers this request later, through the returned Completion; Handle() then returns OK and
  // appends nothing.
  Completion Defer();
  // Answers this request on a handler thread: `call` runs there once Handle() has returned OK
  // (an error returned instead answers the request, and `call` is dropped).
  void Offload(OffloadedCall call);

 private:
  friend class internal::ReplyState;  // the server's side: how a Reply is made, and read
  // `answers` may be null; `offloaded` for the reply of an offloaded call, which may neither
  // defer nor offload.
  Reply(protocol::Buffer* out, internal::Answers* answers, bool offloaded)
      : out_(out), start_(out->size()), answers_(answers), offloaded_call_(offloaded) {}

  // Whether another way of answering may start; notes the misuse if not.
  bool MayAnswerLater(const char* what);

  protocol::Buffer* out_;  // the connection's; not owned
  size_t start_;
  internal::Answers* answers_;  // not owned; may be null
  const bool offloaded_call_;
  bool close_after_ = false;
  bool deferred_ = false;
  uint64_t deferred_request_ = 0;
  OffloadedCall offload_;
  const char* misuse_ = nullptr;  // a string literal
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Appends the reply for `request` to `reply`, or returns an error (see the file comment).
  // `request` is valid only during the call.
  virtual absl::Status Handle(absl::string_view request, Reply& reply) = 0;
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

// A level a handler registers at start-up (a state, a size now), shown beside its counters as
// `handler_<handler>_<name>` and in /metrics as a gauge. Set() from any thread.
class HandlerGauge {
 public:
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// The server-wide memory budget (--max_buffer_memory, docs/RELIABILITY.md), for a handler that
// keeps copies of requests beyond the call (a queue of its own): charged, they count with the
// server's buffers. Offered to Service::Start (service.h, StartContext). Thread-safe.
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

class StatsSource;  // the server's statistics (handlers/stats_source.h)
class TurnEnd;      // work put off to the end of the worker's turn (handlers/turn_end.h)

// What the server offers a handler when it makes one.
struct HandlerContext {
  const StatsSource* stats = nullptr;  // the server's; outlives every handler; may be null in tests
  ConnectionInfo connection;
  // The connection's worker's (turn_end.h); null where there is no worker (a unit test).
  TurnEnd* turn_end = nullptr;
};

using HandlerFactory = std::function<std::unique_ptr<Handler>(const HandlerContext&)>;

}  // namespace handlers

#endif  // HANDLERS_HANDLER_H_
