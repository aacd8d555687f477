#include "server/net/raw_transport.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "server/net/socket.h"

namespace server {
namespace {

// A frame missing at least this much is read into place (one copy saved); below it, reading
// into the shared buffer may bring the following frames in the same call.
constexpr size_t kReadInPlaceMinBytes = 64 << 10;

}  // namespace

RawTransport::RawTransport(const Binding& binding, common::Poller* set, char* scratch,
                           size_t scratch_bytes)
    : binding_(binding), set_(set), scratch_(scratch), scratch_bytes_(scratch_bytes) {}

RawTransport::~RawTransport() {
  if (registered_ && !closed_) set_->Remove(binding_.fd);
}

absl::Status RawTransport::Wait(bool read, bool write) {
  const uint32_t wanted = (read ? EPOLLIN : 0u) | (write ? EPOLLOUT : 0u);
  if (registered_ && registered_events_ == wanted) return absl::OkStatus();
  if (absl::Status status = set_->Set(binding_.fd, wanted, this, registered_); !status.ok()) {
    return status;
  }
  registered_ = true;
  registered_events_ = wanted;
  return absl::OkStatus();
}

void RawTransport::WaitIn(common::Poller* set) {
  if (set == set_) return;
  if (registered_) set_->Remove(binding_.fd);
  registered_ = false;
  set_ = set;
}

void RawTransport::OnReady(uint32_t events) {
  binding_.events->OnTransportReady(events & EPOLLIN, events & EPOLLOUT,
                                    events & (EPOLLHUP | EPOLLERR));
}

IoResult RawTransport::Read() {
  protocol::FrameDecoder& input = *binding_.input;
  ssize_t n;
  size_t missing = 0;
  if (char* in_place = input.ReadSpace(&missing);
      in_place != nullptr && missing >= kReadInPlaceMinBytes) {
    // The rest of a large frame: straight into its place, not through the shared buffer.
    n = Receive(in_place, std::min(missing, scratch_bytes_));
    if (n > 0) input.CommitRead(n);
  } else {
    n = Receive(scratch_, scratch_bytes_);
    if (n > 0) input.Feed(absl::string_view(scratch_, n));
  }
  if (n > 0) return {IoResult::kOk, n};
  if (n == 0) return {IoResult::kEnd};
  if (WouldBlock(errno)) return {};
  return {IoResult::kError, 0, errno};
}

IoResult RawTransport::Write() {
  if (binding_.output->empty()) return {};
  const ssize_t n = Send();
  if (n < 0) return WouldBlock(errno) ? IoResult{} : IoResult{IoResult::kError, 0, errno};
  binding_.output->Consume(n);
  return {IoResult::kOk, n};
}

ssize_t RawTransport::Receive(char* data, size_t size) { return read(binding_.fd, data, size); }

ssize_t RawTransport::Send() { return SendSome(binding_.fd, *binding_.output); }

}  // namespace server
