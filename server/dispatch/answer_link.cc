#include "server/dispatch/answer_link.h"

#include <utility>

#include "glog/logging.h"
#include "protocol/buffer.h"
#include "protocol/frame.h"
#include "server/dispatch/dispatch.h"

namespace server {

void AnswerLink::Complete(uint64_t request, absl::Status status, std::string payload,
                          bool close_after) {
  // The frame is encoded here, off the loop. A reply that fits becomes its frame in place: the
  // header goes in front of the payload (no allocation for a short one, such as kv's "+").
  std::string bytes;
  bool is_error = false;
  if (status.ok() && payload.size() <= max_frame_bytes_) {
    char header[protocol::kHeaderBytes];
    protocol::WriteBigEndian32(static_cast<uint32_t>(payload.size()), header);
    payload.insert(0, header, sizeof(header));
    bytes = std::move(payload);
  } else {
    protocol::Buffer frame;
    is_error = !AppendReplyFrame(status, payload, max_frame_bytes_, &frame);
    bytes = std::string(frame.view());
  }
  if (std::this_thread::get_id() == loop_thread_) {
    if (target_ == nullptr) return discarded_->Add(1);
    if (!target_->dispatching()) {
      return target_->OnLateAnswer(request, std::move(bytes), is_error, close_after);
    }
  }
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = queued_.empty();
    queued_.push_back({request, std::move(bytes), is_error, close_after});
  }
  // The task that is posted already delivers this answer too. If the loop has stopped, the
  // answers stay queued and go with the link.
  if (first) loop_->Post([self = handlers::internal::SinkRef<AnswerLink>(this)] { self->Deliver(); });
}

void AnswerLink::Deliver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivering_.swap(queued_);
  }
  for (Answer& answer : delivering_) {
    if (target_ == nullptr) {  // its connection closed first (perhaps after an answer here)
      discarded_->Add(1);
      continue;
    }
    target_->OnLateAnswer(answer.request, std::move(answer.frame), answer.is_error,
                          answer.close_after);
  }
  delivering_.clear();
}

void AnswerLink::Misused(uint64_t request, absl::string_view what) {
  if (!cut_.load(std::memory_order_relaxed)) {
    LOG(DFATAL) << "handler misuse: " << what << " (request " << request << ")";
  }
  loop_->Post([self = handlers::internal::SinkRef<AnswerLink>(this)] { self->misuse_->Add(1); });
}

}  // namespace server
