#include "protocol/output_queue.h"

#include <algorithm>

#include "glog/logging.h"

namespace protocol {

Buffer& OutputQueue::BufferForNextReply() {
  if (segments_.back().size() >= segment_bytes_ || (pinned_ && !segments_.back().empty())) {
    sealed_bytes_ += segments_.back().size();
    segments_.push_back(std::move(spare_));
    spare_ = Buffer();
  }
  return segments_.back();
}

int OutputQueue::Peek(absl::string_view* parts, int max_parts) const {
  return PeekAs(parts, max_parts, [](const Buffer& segment) { return segment.view(); });
}

int OutputQueue::PeekIovecs(iovec* parts, int max_parts) const {
  return PeekAs(parts, max_parts, [](const Buffer& segment) {
    return iovec{const_cast<char*>(segment.data()), segment.size()};
  });
}

void OutputQueue::Consume(size_t n) {
  DCHECK_LE(n, size());
  size_t emptied = 0;  // sealed segments fully consumed, dropped at the end in one go
  for (Buffer& segment : segments_) {
    if (n == 0) break;
    const size_t take = std::min(n, segment.size());
    segment.Consume(take);
    n -= take;
    if (&segment == &segments_.back()) break;
    sealed_bytes_ -= take;
    if (segment.empty()) ++emptied;  // a large reply's memory is freed now, not at Clear()
  }
  if (emptied > 0 && spare_.capacity() == 0 && segments_.front().capacity() <= kSpareBytes) {
    spare_ = std::move(segments_.front());
    spare_.Clear(kSpareBytes);
  }
  segments_.erase(segments_.begin(), segments_.begin() + emptied);
}

void OutputQueue::Clear(size_t keep_capacity) {
  segments_.erase(segments_.begin(), segments_.end() - 1);
  segments_.front().Clear(keep_capacity);
  sealed_bytes_ = 0;
}

std::string OutputQueue::ToString() const {
  std::string all;
  all.reserve(size());
  for (const Buffer& segment : segments_) all.append(segment.data(), segment.size());
  return all;
}

}  // namespace protocol
