// IntrusiveList: a doubly linked list whose links live in the listed objects: O(1) insertion
// and removal, no allocation, and a hook that leaves its list when its object is destroyed.
//
// A worker keeps its connections on such lists (ready for the end of the turn, paused for
// memory, the idle and frame timers): a freed connection cannot be reached from any of them,
// by construction rather than by the order of calls, and "is it listed?" is the hook's own
// state, not a flag kept beside it.
//
//   struct Job {
//     common::ListHook<Job> ready{this};
//   };
//   common::IntrusiveList<Job> ready;
//   ready.PushBack(&job.ready);          // no-op if already listed
//   while (Job* job = ready.PopFront()) Run(job);
//
// Not thread-safe.
#ifndef COMMON_INTRUSIVE_LIST_H_
#define COMMON_INTRUSIVE_LIST_H_

namespace common {

template <typename T>
class IntrusiveList;

template <typename T>
class ListHook {
 public:
  explicit ListHook(T* owner) : owner_(owner) {}
  ~ListHook() { Unlink(); }
  ListHook(const ListHook&) = delete;
  ListHook& operator=(const ListHook&) = delete;

  bool linked() const { return next_ != nullptr; }
  void Unlink() {
    if (!linked()) return;
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = next_ = nullptr;
  }
  T* owner() const { return owner_; }

 private:
  friend class IntrusiveList<T>;
  T* const owner_;
  ListHook* prev_ = nullptr;
  ListHook* next_ = nullptr;
};

template <typename T>
class IntrusiveList {
 public:
  IntrusiveList() { head_.prev_ = head_.next_ = &head_; }
  ~IntrusiveList() { Clear(); }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_.next_ == &head_; }

  // Appends `hook` unless it is on a list already (this one or another).
  void PushBack(ListHook<T>* hook) {
    if (hook->linked()) return;
    hook->prev_ = head_.prev_;
    hook->next_ = &head_;
    head_.prev_->next_ = hook;
    head_.prev_ = hook;
  }

  // The first hook, or null.
  ListHook<T>* front() const { return empty() ? nullptr : head_.next_; }
  // Unlinks the first entry and returns its owner, or null.
  T* PopFront() {
    ListHook<T>* hook = front();
    if (hook == nullptr) return nullptr;
    hook->Unlink();
    return hook->owner();
  }

  // Moves every entry to the end of `to`, keeping their order.
  void MoveAllTo(IntrusiveList* to) {
    while (ListHook<T>* hook = front()) {
      hook->Unlink();
      to->PushBack(hook);
    }
  }

  void Clear() {
    while (ListHook<T>* hook = front()) hook->Unlink();
  }

 private:
  ListHook<T> head_{nullptr};  // sentinel of a circular list
};

}  // namespace common

#endif  // COMMON_INTRUSIVE_LIST_H_
