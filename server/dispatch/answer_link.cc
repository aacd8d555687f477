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
  loop_->Post(
      [self = handlers::internal::SinkRef<AnswerLink>(this), request, bytes = std::move(bytes), is_error, close_after]() mutable {
        if (self->target_ == nullptr) {
          self->discarded_->Add(1);  // its connection closed first
          return;
        }
        self->target_->OnLateAnswer(request, std::move(bytes), is_error, close_after);
      });
}

void AnswerLink::Misused(uint64_t request, absl::string_view what) {
  if (!cut_.load(std::memory_order_relaxed)) {
    LOG(DFATAL) << "handler misuse: " << what << " (request " << request << ")";
  }
  loop_->Post([self = handlers::internal::SinkRef<AnswerLink>(this)] { self->misuse_->Add(1); });
}

}  // namespace server
