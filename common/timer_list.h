// TimerList: objects ordered by when their timer started, oldest first, with O(1) operations.
//
// When every entry has the same timeout, ordering by start time is ordering by deadline: no
// heap or wheel is needed, only a look at the oldest entry. An object embeds one TimerHook per
// kind of timer and restarts it with Touch(); a hook leaves its list when destroyed.
//
//   struct Conn { common::TimerHook<Conn> idle{this}; };
//   common::TimerList<Conn> idle;
//   idle.Touch(&conn.idle, now);                 // start or restart
//   while (common::TimerHook<Conn>* oldest = idle.Oldest()) {
//     if (now - oldest->started() < timeout) break;
//     Expire(oldest->owner());                   // which must Remove() it
//   }
//
// Not thread-safe.
#ifndef COMMON_TIMER_LIST_H_
#define COMMON_TIMER_LIST_H_

#include <cstdint>

#include "common/intrusive_list.h"

namespace common {

template <typename T>
class TimerHook : public ListHook<T> {
 public:
  explicit TimerHook(T* owner) : ListHook<T>(owner) {}
  int64_t started() const { return started_; }

 private:
  template <typename>
  friend class TimerList;
  int64_t started_ = 0;  // monotonic nanoseconds
};

template <typename T>
class TimerList {
 public:
  // (Re)starts `hook`'s timer at `now`, making it the newest.
  void Touch(TimerHook<T>* hook, int64_t now) {
    hook->Unlink();
    hook->started_ = now;
    list_.PushBack(hook);
  }
  static void Remove(TimerHook<T>* hook) { hook->Unlink(); }

  // The hook whose timer started first, or null.
  TimerHook<T>* Oldest() const { return static_cast<TimerHook<T>*>(list_.front()); }

 private:
  IntrusiveList<T> list_;  // only TimerHooks are ever pushed
};

}  // namespace common

#endif  // COMMON_TIMER_LIST_H_
