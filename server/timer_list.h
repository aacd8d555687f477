// TimerList: connections ordered by when a timer started, oldest first, with O(1) operations.
//
// Every connection on a worker has the same timeout, so ordering by start time is ordering by
// deadline: a worker needs no heap or wheel, only to look at the oldest entry. A connection
// embeds one TimerNode per kind of timer (idle, frame) and restarts it with Touch().
//
//   TimerList idle;
//   idle.Touch(&conn->idle_timer, now);          // start or restart
//   while (TimerNode* oldest = idle.Oldest()) {
//     if (now - oldest->started < timeout) break;
//     Expire(oldest->owner);
//   }
//
// Not thread-safe: owned by one worker.
#ifndef SERVER_TIMER_LIST_H_
#define SERVER_TIMER_LIST_H_

#include <cstdint>

namespace server {

class Connection;

struct TimerNode {
  explicit TimerNode(Connection* owner) : owner(owner) {}
  TimerNode(const TimerNode&) = delete;
  TimerNode& operator=(const TimerNode&) = delete;

  bool linked() const { return prev != nullptr; }

  Connection* const owner;
  int64_t started = 0;  // monotonic nanoseconds
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
};

class TimerList {
 public:
  TimerList() { head_.prev = head_.next = &head_; }
  TimerList(const TimerList&) = delete;
  TimerList& operator=(const TimerList&) = delete;

  // (Re)starts `node`'s timer at `now`, making it the newest.
  void Touch(TimerNode* node, int64_t now) {
    Remove(node);
    node->started = now;
    node->prev = head_.prev;
    node->next = &head_;
    head_.prev->next = node;
    head_.prev = node;
  }

  void Remove(TimerNode* node) {
    if (!node->linked()) return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = nullptr;
  }

  // The node whose timer started first, or null.
  TimerNode* Oldest() const { return head_.next == &head_ ? nullptr : head_.next; }

 private:
  TimerNode head_{nullptr};  // sentinel of a circular list
};

}  // namespace server

#endif  // SERVER_TIMER_LIST_H_
