#include "server/dispatch/reply_order.h"

#include <algorithm>
#include <utility>

namespace server {

uint64_t ReplyOrder::Reserve(int64_t started_ns) {
  places_.push_back({next_id_, false, std::string(), 0, started_ns});
  ++waiting_;
  return next_id_++;
}

void ReplyOrder::PushHeld(size_t n) {
  places_.push_back({next_id_++, true, std::string(), n, 0});
  held_bytes_ += n;
}

bool ReplyOrder::IsWaiting(uint64_t id) const {
  if (empty() || id < front().id || id > places_.back().id) return false;
  return !places_[head_ + (id - front().id)].ready;
}

std::vector<ReplyOrder::Waiting> ReplyOrder::WaitingPlaces() const {
  std::vector<Waiting> waiting;
  for (size_t i = head_; i < places_.size(); ++i) {
    if (!places_[i].ready) {
      waiting.push_back({places_[i].id, places_[i].started_ns, places_[i].tag});
    }
  }
  return waiting;
}

bool ReplyOrder::Fill(uint64_t id, std::string frame, int* released, int64_t* started_ns) {
  if (!IsWaiting(id)) return false;
  Place& place = at(id);
  *started_ns = place.started_ns;
  place.ready = true;
  place.frame = std::move(frame);
  held_bytes_ += place.frame.size();
  --waiting_;
  *released = Release();
  return true;
}

int ReplyOrder::Release() {
  int released = 0;
  for (; !empty() && front().ready; ++released) {
    Place& place = places_[head_];
    protocol::Buffer& out = output_->BufferForNextReply();
    if (place.held_size > 0) {  // held replies leave in order: this one is at held_'s front
      out.Append(held_.view().substr(0, place.held_size));
      held_.Consume(place.held_size);
      held_bytes_ -= place.held_size;
    } else {
      out.Append(place.frame);
      held_bytes_ -= place.frame.size();
      place.frame = std::string();  // its bytes are in the output now
    }
    ++head_;
  }
  if (empty()) {  // all out: start again at the front, keeping the places' capacity
    places_.clear();
    head_ = 0;
    held_.Clear(/*keep_capacity=*/0);
  } else if (head_ >= places_.size() / 2) {
    // Places keep coming while one waits: drop the spent half (amortised O(1) per place).
    places_.erase(places_.begin(), places_.begin() + head_);
    head_ = 0;
  }
  return released;
}

}  // namespace server
