// ReplyOrder: keeps a connection's replies in request order when some are answered later.
//
// Requests answered at once go straight to the output queue while nothing is waiting (the
// fast path: no copy, no allocation). Once a request is waiting for a later answer (a deferred
// or offloaded call), every reply after it is held here until the ones before it are
// out, as Wangle's PipelinedServerDispatcher does.
//
//   ReplyOrder order(&output);
//   uint64_t id = order.Reserve(now_ns);           // request 1 answers later
//   order.PushReady(frame_of_request_2);           // held: request 1 is not answered yet
//   order.Fill(id, frame_of_request_1, ...);       // both go to `output`, 1 then 2
//
// Replies held are written one after another into one buffer (held_buffer(), PushHeld()), not
// each into a string of its own: at pipeline 16 most replies of a connection that writes are
// held behind the write's answer, and an allocation each cost more than the reply.
//
// Not thread-safe: the connection's loop thread only.
#ifndef SERVER_DISPATCH_REPLY_ORDER_H_
#define SERVER_DISPATCH_REPLY_ORDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "protocol/buffer.h"
#include "protocol/output_queue.h"

namespace server {

class ReplyOrder {
 public:
  explicit ReplyOrder(protocol::OutputQueue* output) : output_(output) {}

  // True when replies may go straight to the output queue.
  bool empty() const { return head_ == places_.size(); }
  // Places taken: requests waiting for their answer, and answers held behind them.
  size_t size() const { return places_.size() - head_; }
  // Requests still waiting for their answer.
  size_t waiting() const { return waiting_; }
  // Bytes of the replies held here (ready, waiting behind an earlier place).
  size_t held_bytes() const { return held_bytes_; }
  // Places allocated, spent or not, and the held replies' buffer (tests: memory stays bounded).
  size_t capacity() const { return places_.capacity(); }
  size_t held_capacity() const { return held_.capacity(); }

  // A place for a reply that comes later, for a request read at `started_ns`; returns its id.
  uint64_t Reserve(int64_t started_ns);
  // A reply (whole frame bytes) that is ready now but must wait behind the places taken.
  void PushReady(absl::string_view frame) {
    held_buffer().Append(frame);
    PushHeld(frame.size());
  }
  // Where a held reply may be written in place, at the end: then PushHeld(n) makes the `n`
  // bytes written there since the last PushHeld the next place. Nothing else may change it.
  protocol::Buffer& held_buffer() {
    if (held_.capacity() == 0) held_.Reserve(kHeldBlockBytes);
    return held_;
  }
  void PushHeld(size_t n);
  // The answer for place `id`. False if `id` is not waiting (answered already, timed out):
  // the caller discards it. `*released` is how many replies went to the output queue;
  // `*started_ns` is the time given to Reserve().
  bool Fill(uint64_t id, std::string frame, int* released, int64_t* started_ns);
  // The places still waiting, oldest first (for shutdown and close).
  struct Waiting {
    uint64_t id;
    int64_t started_ns;
    uint64_t tag;
  };
  std::vector<Waiting> WaitingPlaces() const;
  // True if place `id` is still waiting for its answer.
  bool IsWaiting(uint64_t id) const;
  // A number the owner keeps with a waiting place (its deadline's ticket); 0 if not waiting.
  uint64_t tag(uint64_t id) const { return IsWaiting(id) ? places_[head_ + (id - front().id)].tag : 0; }
  void set_tag(uint64_t id, uint64_t tag) {
    if (IsWaiting(id)) at(id).tag = tag;
  }

 private:
  // Room for a burst of held replies, taken when the first is held and freed when the last is
  // out: an idle connection holds none.
  static constexpr size_t kHeldBlockBytes = 4096;
  struct Place {
    uint64_t id;
    bool ready;
    std::string frame;     // a later answer
    size_t held_size;      // a reply held: its bytes at the front of held_ when it is next out
    int64_t started_ns;
    uint64_t tag = 0;
  };
  int Release();  // moves the ready places at the front to the output; returns how many

  const Place& front() const { return places_[head_]; }
  Place& at(uint64_t id) { return places_[head_ + (id - front().id)]; }  // ids are consecutive

  protocol::OutputQueue* const output_;  // the connection's; not owned
  // places_[head_..] are the places taken, ids ascending. A vector, not a deque: an empty one
  // allocates nothing (libstdc++'s deque allocates 600 bytes up front), and idle connections
  // must stay small. Bounded by --max_inflight_per_connection.
  std::vector<Place> places_;
  size_t head_ = 0;
  protocol::Buffer held_;  // the held replies' bytes, in place order
  uint64_t next_id_ = 1;
  size_t held_bytes_ = 0;
  size_t waiting_ = 0;
};

}  // namespace server

#endif  // SERVER_DISPATCH_REPLY_ORDER_H_
