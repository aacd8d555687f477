#include "server/reply_order.h"

#include <algorithm>
#include <utility>

namespace server {

uint64_t ReplyOrder::Reserve(int64_t started_ns) {
  places_.push_back({next_id_, false, std::string(), started_ns});
  ++waiting_;
  return next_id_++;
}

void ReplyOrder::PushReady(absl::string_view frame) {
  places_.push_back({next_id_++, true, std::string(frame), 0});
}

bool ReplyOrder::IsWaiting(uint64_t id) const {
  if (places_.empty() || id < places_.front().id || id > places_.back().id) return false;
  const Place& place = places_[id - places_.front().id];  // ids are consecutive
  return !place.ready;
}

std::vector<ReplyOrder::Waiting> ReplyOrder::WaitingPlaces() const {
  std::vector<Waiting> waiting;
  for (const Place& place : places_) {
    if (!place.ready) waiting.push_back({place.id, place.started_ns});
  }
  return waiting;
}

bool ReplyOrder::Fill(uint64_t id, std::string frame, int* released, int64_t* started_ns) {
  if (!IsWaiting(id)) return false;
  Place& place = places_[id - places_.front().id];
  *started_ns = place.started_ns;
  place.ready = true;
  place.frame = std::move(frame);
  --waiting_;
  *released = Release();
  return true;
}

int ReplyOrder::Release() {
  int released = 0;
  for (; !places_.empty() && places_.front().ready; ++released) {
    output_->BufferForNextReply().Append(places_.front().frame);
    places_.pop_front();
  }
  return released;
}

}  // namespace server
