// RequestDeadlines: the --handler_timeout_ms deadlines of a worker's requests answered later.
//
// Holds exactly the requests still waiting for their answer: a session removes one when it is
// answered, and all of its own when it closes, so what it holds is bounded by the in-flight
// limits. Every request has the same timeout and the loop's clock only moves forward, so the
// order requests are taken in is the order of their deadlines: a FIFO, not a sorted map. Taking
// and answering a request costs no tree operation and no allocation, only an entry at the back
// and a mark; marked entries leave from the front, and when they pile up behind one request
// still waiting, the FIFO is compacted and each session told its requests' new tickets
// (amortised O(1) per request).
//
//   uint64_t ticket = deadlines.Add(session, id, started_ns);   // keep it with the request
//   deadlines.Remove(ticket);                                   // answered in time
//   deadlines.Expire(now_ns, [](Session* s, uint64_t id) { /* DEADLINE_EXCEEDED reply */ });
//
// Not thread-safe: one worker's loop thread.
#ifndef SERVER_DISPATCH_REQUEST_DEADLINES_H_
#define SERVER_DISPATCH_REQUEST_DEADLINES_H_

#include <algorithm>
#include <cstdint>
#include <deque>

#include "absl/time/time.h"
#include "common/event_loop.h"

namespace server {

class RequestDeadlines {
 public:
  // Told, at a compaction, the new ticket of its request `id`.
  class Holder {
   public:
    virtual ~Holder() = default;
    virtual void Retag(uint64_t id, uint64_t ticket) = 0;
  };

  explicit RequestDeadlines(absl::Duration timeout)
      : timeout_ns_(timeout == absl::InfiniteDuration() ? 0 : absl::ToInt64Nanoseconds(timeout)) {}

  // Request `id` of `holder`, taken at `started_ns`; returns its ticket for Remove(). Nothing
  // is kept without a timeout (ticket 0).
  uint64_t Add(Holder* holder, uint64_t id, int64_t started_ns) {
    if (timeout_ns_ <= 0) return 0;
    int64_t deadline = started_ns + timeout_ns_;
    // Never earlier than one already queued: the FIFO stays in deadline order.
    if (!entries_.empty()) deadline = std::max(deadline, entries_.back().deadline_ns);
    entries_.push_back({deadline, holder, id});
    ++live_;
    return first_ticket_ + entries_.size() - 1;
  }
  void Remove(uint64_t ticket) {
    if (ticket < first_ticket_ || ticket - first_ticket_ >= entries_.size()) return;
    Entry& entry = entries_[ticket - first_ticket_];
    if (entry.holder == nullptr) return;
    entry.holder = nullptr;
    --live_;
    DropFront();
    if (entries_.size() > 2 * live_ + kCompactAbove) Compact();
  }
  size_t size() const { return live_; }
  // Entries kept, removed ones included (tests: it stays within 2 x size() + kCompactAbove).
  size_t queued() const { return entries_.size(); }
  // Removed entries left behind one still waiting: compacted past this many.
  static constexpr size_t kCompactAbove = 4096;

  // Calls expire(holder, id) for each request past its deadline, and forgets it.
  template <typename ExpireFn>
  void Expire(int64_t now_ns, ExpireFn expire) {
    DropFront();
    while (!entries_.empty() && entries_.front().deadline_ns <= now_ns) {
      const Entry entry = entries_.front();
      entries_.pop_front();
      ++first_ticket_;
      --live_;
      expire(entry.holder, entry.id);  // may Remove() others: it finds them by ticket
      DropFront();
    }
  }

  int64_t NextDeadlineNs() const {
    return entries_.empty() ? common::EventLoop::kNoDeadline : entries_.front().deadline_ns;
  }

 private:
  struct Entry {
    int64_t deadline_ns;
    Holder* holder;  // null once removed
    uint64_t id;
  };
  void DropFront() {
    while (!entries_.empty() && entries_.front().holder == nullptr) {
      entries_.pop_front();
      ++first_ticket_;
    }
  }
  void Compact() {
    std::deque<Entry> kept;
    for (const Entry& entry : entries_) {
      if (entry.holder != nullptr) kept.push_back(entry);
    }
    // Tickets of a new range: an old ticket can never name a new entry.
    first_ticket_ += entries_.size();
    entries_.swap(kept);
    for (size_t i = 0; i < entries_.size(); ++i) {
      entries_[i].holder->Retag(entries_[i].id, first_ticket_ + i);
    }
  }

  const int64_t timeout_ns_;  // 0: no timeout
  std::deque<Entry> entries_;
  uint64_t first_ticket_ = 1;  // the ticket of entries_.front(); 0 is "none"
  size_t live_ = 0;
};

}  // namespace server

#endif  // SERVER_DISPATCH_REQUEST_DEADLINES_H_
