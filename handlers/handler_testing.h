// The test kit for handler packages: runs requests through a handler as the server would, with
// no server, and returns the replies.
//
//   EXPECT_EQ(*HandleToString(handler, "abc"), "ABC");
//   EXPECT_EQ(*HandleWithRegistered("uppercase", "abc"), "ABC");  // via the global registry
//
// A handler that answers later or offloads is driven the same way: HandleToString waits
// (bounded) for a later answer, and runs an offloaded call as a handler thread would. For more
// than one request, or to look between them, a TestConnection:
//
//   TestConnection connection(handler);
//   EXPECT_EQ(connection.Send("SET a 1"), TestConnection::How::kLater);
//   EXPECT_EQ(connection.Await(0), "+");
//
// Misuse of the reply (handlers/handler.h) is counted (misuses()) and answered INTERNAL, as in
// a release build of the server.
#ifndef HANDLERS_HANDLER_TESTING_H_
#define HANDLERS_HANDLER_TESTING_H_

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "handlers/answers.h"
#include "handlers/handler.h"
#include "handlers/registry.h"
#include "handlers/service.h"
#include "handlers/upstream.h"

namespace handlers {

// One connection's requests to one handler instance, answered as the server answers them:
// Handle() on the calling thread, one request at a time; an offloaded call run at once on the
// calling thread, as a handler thread would (the connection's next request waits for it
// there too); a later answer taken from any thread, even after the TestConnection is gone.
class TestConnection {
 public:
  explicit TestConnection(Handler& handler);
  ~TestConnection();
  TestConnection(const TestConnection&) = delete;
  TestConnection& operator=(const TestConnection&) = delete;

  enum class How { kNow, kLater, kOffloaded, kError };
  // Handles `request`, the next of this connection (numbered from 0), and says how it was
  // answered: a reply at once, a later answer to come (Defer), an offloaded call that has run
  // (its answer is in), or an error reply at once.
  How Send(absl::string_view request);

  // The answer to request `n` once it has come, waiting up to `timeout`: its payload, or its
  // error reply's status. DEADLINE_EXCEEDED "no answer to request n ..." if none came in time.
  absl::StatusOr<std::string> Await(size_t n, absl::Duration timeout = absl::Seconds(10));
  // Answers in so far.
  size_t answered() const;
  // Misuses of the reply or of a completion so far (handlers/handler.h).
  int misuses() const;
  // Whether the answer to request `n`, once in, asked the server to close the connection after
  // it (Reply::CloseAfterReply or Completion::CloseAfterReply).
  bool closes_after(size_t n) const;
  // Runs on the answering thread at each answer, with its request's number, before Await()
  // returns it (to note what the handler's resources look like at that moment). Set before the
  // first Send.
  void set_on_answer(std::function<void(size_t n)> on_answer);

 private:
  class Answers;

  Handler& handler_;
  std::unique_ptr<Answers> answers_;
  size_t next_ = 0;
};

// An upstream (upstream.h) for a handler's tests: it records each call, and the test answers
// them when it chooses, on its own thread, as the server's loop would (never inside Call()).
//
//   TestUpstream backend;
//   TestStartContext context;
//   context.AddTestUpstream("cache", &backend);   // what AddUpstream({.name = "cache"}) gets
//   ...
//   EXPECT_EQ(connection.Send("GET a"), TestConnection::How::kLater);
//   EXPECT_EQ(backend.request(0), "GET a");
//   backend.Answer(0, "+1");                       // runs the handler's callback now
//
// Thread rule: one thread (the test's).
class TestUpstream : public Upstream {
 public:
  void Call(absl::string_view request, const CallOptions& options,
            UpstreamCallback done) override;
  size_t calls() const { return calls_.size(); }
  const std::string& request(size_t n) const { return calls_.at(n).request; }
  const CallOptions& options(size_t n) const { return calls_.at(n).options; }
  // Runs call `n`'s callback with `reply` (once; later answers to it are ignored).
  void Answer(size_t n, absl::StatusOr<std::string> reply);

 private:
  struct Recorded {
    std::string request;
    CallOptions options;
    UpstreamCallback done;
  };
  std::vector<Recorded> calls_;
};

// A StartContext for a test that starts a Service (service.h): it owns the counters the service
// adds, found by name, offers `budget` (default: none) as the memory budget, and answers
// AddUpstream() with the upstream added here under that name (NotFound otherwise).
//
//   TestStartContext context;
//   ASSERT_TRUE(service->Start(context).ok());
//   EXPECT_EQ(context.counter("sleeps")->value(), 0);
class TestStartContext : public StartContext {
 public:
  explicit TestStartContext(MemoryAccount* budget = nullptr) : budget_(budget) {}
  HandlerCounter* AddCounter(absl::string_view name) override;
  HandlerGauge* AddGauge(absl::string_view name) override;
  MemoryAccount* memory_budget() override { return budget_; }
  absl::StatusOr<Upstream*> AddUpstream(const UpstreamOptions& options) override;
  // The counter the service added as `name`, or null.
  const HandlerCounter* counter(absl::string_view name) const;
  // The gauge the service added as `name`, or null.
  const HandlerGauge* gauge(absl::string_view name) const;
  // What AddUpstream() returns for an upstream named `name`.
  void AddTestUpstream(absl::string_view name, Upstream* upstream);
  // The options the service declared the upstream `name` with, or null.
  const UpstreamOptions* upstream_options(absl::string_view name) const;

 private:
  MemoryAccount* const budget_;
  std::map<std::string, std::unique_ptr<HandlerCounter>, std::less<>> counters_;
  std::map<std::string, std::unique_ptr<HandlerGauge>, std::less<>> gauges_;
  std::map<std::string, Upstream*, std::less<>> upstreams_;
  std::map<std::string, UpstreamOptions, std::less<>> declared_;
};

// Runs one request through `handler` as the server would and returns its reply's payload (or
// its error), waiting up to 10 s for an answer given later.
absl::StatusOr<std::string> HandleToString(Handler& handler, absl::string_view request);

// Makes the service of the handler registered as `name` (NotFound if none), starts it with a
// TestStartContext (its error if it refuses), makes a handler and runs `request` through it.
absl::StatusOr<std::string> HandleWithRegistered(absl::string_view name,
                                                 absl::string_view request,
                                                 const HandlerContext& context = {});

}  // namespace handlers

#endif  // HANDLERS_HANDLER_TESTING_H_
