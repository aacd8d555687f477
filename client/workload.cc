#include "client/workload.h"

#include <utility>

namespace client {

FixedWorkload::FixedWorkload(std::shared_ptr<const FixedRequest> request)
    : request_(std::move(request)) {
  AppendRequest(request_->protocol, request_->payload, &frame_);
}

void FixedWorkload::Next(protocol::Buffer* out) {
  out->Append(frame_.view());
  ++unanswered_;
}

bool FixedWorkload::Check(const protocol::Frame& reply) {
  if (unanswered_ == 0) return false;
  --unanswered_;
  return reply.kind == protocol::FrameKind::kError || !request_->expected.has_value() ||
         reply.payload == *request_->expected;
}

void FixedWorkload::Resend(protocol::Buffer* out) const {
  for (int64_t i = 0; i < unanswered_; ++i) out->Append(frame_.view());
}

}  // namespace client
