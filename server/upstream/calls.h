// Calls: the calls one pool (pool.h) has waiting, with their deadlines.
//
// A call lives in a slot of stable address (its timer hook is intrusive), reused once it is
// answered; its id is the slot's index and the slot's generation, so an id kept by a
// connection for a call already answered (a reply that comes too late) finds nothing. Calls of
// one timeout are kept oldest first, so the oldest is always the next of them to expire:
// taking a call, answering it and expiring it cost no tree or hash operation.
//
//   Calls calls;
//   Calls::Call& call = calls.New(std::move(done), timeout, now_ns);
//   uint64_t id = call.id();                     // what a connection keeps
//   ...
//   if (Calls::Call* c = calls.Find(id)) calls.Release(*c)(std::move(reply));
//   while (Calls::Call* due = calls.OldestDue(now_ns)) { ... calls.Release(*due) ... }
//
// Not thread-safe: its worker's loop thread.
#ifndef SERVER_UPSTREAM_CALLS_H_
#define SERVER_UPSTREAM_CALLS_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/timer_list.h"
#include "handlers/upstream.h"

namespace server {
namespace upstream {

class UpstreamConnection;

class Calls {
 public:
  struct Call {
    Call() : timer(this) {}
    uint64_t id() const { return (uint64_t{generation} << 32) | index; }
    int64_t deadline_ns() const { return timer.started() + timeout_ns; }

    common::TimerHook<Call> timer;  // in the list of its timeout, while it waits
    handlers::UpstreamCallback done;
    std::string request;  // kept while it may be sent again (`kept`, Keep())
    int64_t timeout_ns = 0;
    int64_t sent_ns = 0;
    uint64_t key = 0;
    uint64_t tried = 0;  // bit i: backend i was tried
    int attempts = 0;
    bool retryable = false;
    bool kept = false;
    bool health_check = false;  // a probe (health_check_every): never retried, not a call
    UpstreamConnection* connection = nullptr;  // where it is in flight
    uint32_t index = 0;       // its slot
    uint32_t generation = 0;  // bumped when the slot is freed
    bool live = false;
  };

  // A new call, due `timeout` (at least 1 ns) after `now_ns`. `done` is taken by reference:
  // moving an AnyInvocable costs a call through its manager, on every request.
  Call& New(handlers::UpstreamCallback&& done, absl::Duration timeout, int64_t now_ns);
  // The call `id` names, or null if it has been answered.
  Call* Find(uint64_t id);
  // Keeps `request` with `call`, to send it again.
  void Keep(Call& call, absl::string_view request);
  // Forgets `call` and frees its slot; returns its callback, for the caller to run.
  handlers::UpstreamCallback Release(Call& call);
  // A call past its deadline at `now_ns`, or null. A call made at `now_ns` is not due then.
  Call* OldestDue(int64_t now_ns);
  int64_t NextDeadlineNs() const;
  // The ids of the calls waiting (for a shutdown, which answers them all).
  std::vector<uint64_t> Waiting() const;

  size_t size() const { return waiting_; }
  // Bytes of the requests kept (for the memory budget).
  int64_t kept_bytes() const { return kept_bytes_; }

 private:
  struct Deadlines {
    absl::Duration timeout;  // found by it: no conversion per call
    int64_t timeout_ns;
    common::TimerList<Call> calls;
  };

  std::deque<Call> slots_;  // a deque: slots keep their address as it grows
  std::vector<uint32_t> free_;
  std::vector<std::unique_ptr<Deadlines>> deadlines_;  // one per timeout in use: few
  size_t waiting_ = 0;
  int64_t kept_bytes_ = 0;
};

}  // namespace upstream
}  // namespace server

#endif  // SERVER_UPSTREAM_CALLS_H_
