#include "server/connection_link.h"

#include <utility>

#include "protocol/buffer.h"
#include "server/dispatch.h"

namespace server {

void ConnectionLink::Complete(uint64_t request, absl::Status status, std::string payload,
                              bool close_after) {
  protocol::Buffer frame;  // encoded here, off the loop
  const bool is_error = !AppendReplyFrame(status, payload, max_frame_bytes_, &frame);
  std::string bytes(frame.view());
  loop_->Post(
      [self = shared_from_this(), request, bytes = std::move(bytes), is_error, close_after]() mutable {
        self->receiver_->OnLateReply(self->connection_, request, std::move(bytes), is_error,
                                     close_after);
      });
}

}  // namespace server
