// MemoryRelease: when a worker hands freed memory back to the kernel.
//
// main.cc keeps freed memory in the allocator's heaps, so that a busy server reuses it instead
// of faulting fresh pages in. Once connections have closed (an attack that ended, large
// requests that are done), hand it back, but only when the worker is quiet: a second after the
// last close, in a loop turn with at most one event. A trim takes milliseconds, and memory
// trimmed while connections keep coming and going (churn, a garbage flood) would only be
// faulted in again; a worker that never stops closing connections still trims every 30 s, on
// whatever turn comes next, busy or not.
// Connections closed to keep within the memory budget are the exception: their memory is
// released at the end of that turn, busy or not (at most every 100 ms), since freeing it was the
// point of closing them.
//
//   release.NoteClosed(now_ns);            // connections were freed
//   release.MaybeRelease(now_ns, events);  // after each loop turn
//   deadline = std::min(deadline, release.NextDeadlineNs());
//
// Not thread-safe: one per worker.
#ifndef SERVER_MEMORY_MEMORY_RELEASE_H_
#define SERVER_MEMORY_MEMORY_RELEASE_H_

#include <cstdint>

namespace server {

class MemoryRelease {
 public:
  explicit MemoryRelease(int64_t now_ns) : released_ns_(now_ns) {}

  void NoteClosed(int64_t now_ns) {
    pending_ = true;
    closed_ns_ = now_ns;
  }
  // Connections were closed for the memory budget: release without waiting for quiet.
  void NoteEvicted() { urgent_ = true; }
  // Releases if due: on a quiet turn (at most one event) a second after the last close; on
  // any turn when urgent, or 30 s after the last release.
  void MaybeRelease(int64_t now_ns, int events);
  // How many times memory was released (tests; the trim itself is invisible).
  int releases() const { return releases_; }
  // When MaybeRelease() would next act; EventLoop::kNoDeadline if nothing is pending.
  int64_t NextDeadlineNs() const;

 private:
  bool pending_ = false;    // connections closed since memory was last released
  bool urgent_ = false;     // some of them to keep within the memory budget
  int64_t closed_ns_ = 0;   // when connections were last freed
  int64_t released_ns_;     // when memory was last released
  int releases_ = 0;
};

}  // namespace server

#endif  // SERVER_MEMORY_MEMORY_RELEASE_H_
