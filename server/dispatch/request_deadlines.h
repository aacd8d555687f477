// RequestDeadlines: the --handler_timeout_ms deadlines of a worker's requests answered later.
//
// Holds exactly the requests still waiting for their answer: a session removes one when it is
// answered, and all of its own when it closes, so its size is bounded by the in-flight limits.
// Ordered by deadline; the worker looks only at the earliest.
//
//   deadlines.Add(session, id, started_ns);
//   deadlines.Remove(session, id, started_ns);           // answered in time
//   deadlines.Expire(now_ns, [](Session* s, uint64_t id) { /* DEADLINE_EXCEEDED reply */ });
//
// Not thread-safe: one worker's loop thread.
#ifndef SERVER_DISPATCH_REQUEST_DEADLINES_H_
#define SERVER_DISPATCH_REQUEST_DEADLINES_H_

#include <cstdint>
#include <tuple>

#include "absl/container/btree_map.h"
#include "absl/time/time.h"
#include "common/event_loop.h"

namespace server {

class Session;

class RequestDeadlines {
 public:
  explicit RequestDeadlines(absl::Duration timeout)
      : timeout_ns_(timeout == absl::InfiniteDuration() ? 0 : absl::ToInt64Nanoseconds(timeout)) {}

  // Request `id` of `session` (whose id is `session_id`), taken at `started_ns`. Nothing is
  // kept without a timeout.
  void Add(Session* session, uint64_t session_id, uint64_t id, int64_t started_ns) {
    if (timeout_ns_ > 0) entries_.emplace(Key{started_ns + timeout_ns_, session_id, id}, session);
  }
  void Remove(uint64_t session_id, uint64_t id, int64_t started_ns) {
    if (timeout_ns_ > 0) entries_.erase(Key{started_ns + timeout_ns_, session_id, id});
  }
  size_t size() const { return entries_.size(); }

  // Calls expire(session, id) for each request past its deadline, and forgets it.
  template <typename ExpireFn>
  void Expire(int64_t now_ns, ExpireFn expire) {
    while (!entries_.empty() && entries_.begin()->first.deadline_ns <= now_ns) {
      const auto [key, session] = *entries_.begin();
      entries_.erase(entries_.begin());
      expire(session, key.request);
    }
  }

  int64_t NextDeadlineNs() const {
    return entries_.empty() ? common::EventLoop::kNoDeadline : entries_.begin()->first.deadline_ns;
  }

 private:
  struct Key {
    int64_t deadline_ns;
    uint64_t session;
    uint64_t request;
    bool operator<(const Key& o) const {
      return std::tie(deadline_ns, session, request) <
             std::tie(o.deadline_ns, o.session, o.request);
    }
  };
  const int64_t timeout_ns_;  // 0: no timeout
  absl::btree_map<Key, Session*> entries_;  // a B-tree: no node allocated per request
};

}  // namespace server

#endif  // SERVER_DISPATCH_REQUEST_DEADLINES_H_
