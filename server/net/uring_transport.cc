#include "server/net/uring_transport.h"

#include <cerrno>
#include <memory>

#include "server/net/socket.h"

namespace server {

UringTransport::UringTransport(const Binding& binding, common::Uring* uring)
    : binding_(binding), uring_(uring) {
  message_.msg_iov = iov_;
}

absl::Status UringTransport::Wait(bool read, bool /*write: Write() queues the sends*/) {
  SetReceiving(read);
  return absl::OkStatus();
}

void UringTransport::SetReceiving(bool wanted) {
  want_receive_ = wanted;
  if (closed_ || end_ != 0) return;
  if (wanted && !receiving_) {
    uring_->StartReceive(binding_.fd, this);
    receiving_ = true;
  } else if (!wanted && receiving_ && !stopping_) {
    uring_->StopReceive(this);  // receiving_ stays set until the receive reports its end
    stopping_ = true;
  }
}

IoResult UringTransport::Read() {
  if (received_ > 0) {  // the bytes are in the decoder already
    const int64_t bytes = received_;
    received_ = 0;
    return {IoResult::kOk, bytes};
  }
  if (end_ == 0) return {};
  end_reported_ = true;
  if (end_ == kEndOfStream) return {IoResult::kEnd};
  return {IoResult::kError, 0, end_};
}

void UringTransport::OnReceived(absl::string_view data) {
  if (closed_) return;
  binding_.input->Feed(data);
  received_ += data.size();
  binding_.events->OnTransportReady(/*readable=*/true, /*writable=*/false, /*failed=*/false);
  binding_.input->Retain();  // the buffer goes back to the ring: keep what was not answered
}

void UringTransport::OnReceiveStopped(int result) {
  receiving_ = false;
  stopping_ = false;
  if (closed_) return;
  if (result == -ENOBUFS && want_receive_) {
    // The ring ran dry this turn: other connections' receives took every buffer (one with a
    // full socket can take dozens in a turn). So that this one is not starved turn after turn,
    // it reads once now, into memory of its own, before its receive is armed again.
    result = ReadDirectly();
    if (result > 0) result = -EAGAIN;
  }
  if (result == -ENOBUFS || result == -EAGAIN || result == -ECANCELED) {
    // Ended by the kernel, or paused: armed again if the connection still wants input.
    SetReceiving(want_receive_);
    return;
  }
  end_ = result == 0 ? kEndOfStream : -result;
  binding_.events->OnTransportReady(/*readable=*/true, /*writable=*/false, /*failed=*/false);
}

int UringTransport::ReadDirectly() {
  thread_local std::unique_ptr<char[]> buffer(new char[kDirectReadBytes]);
  const ssize_t n = recv(binding_.fd, buffer.get(), kDirectReadBytes, MSG_DONTWAIT);
  if (n < 0) return WouldBlock(errno) ? -EAGAIN : -errno;
  if (n > 0) OnReceived(absl::string_view(buffer.get(), n));
  return static_cast<int>(n);
}

IoResult UringTransport::Write() {
  if (send_error_ != 0) return {IoResult::kError, 0, send_error_};
  if (!closed_ && !sending_ && !send_queued_ && !binding_.output->empty()) {
    uring_->QueueSend(binding_.fd, this);
    send_queued_ = true;
  }
  const int64_t bytes = sent_;  // the output was consumed as the sends completed
  sent_ = 0;
  return {IoResult::kOk, bytes};
}

void UringTransport::WriteNow() {
  if (sending_) return;  // the kernel owns the output's front until the send completes
  // No send of the ring's is in flight to overtake.
  const ssize_t n = SendSome(binding_.fd, *binding_.output);
  if (n > 0) binding_.output->Consume(n);
}

bool UringTransport::PrepareSend(const msghdr** message) {
  send_queued_ = false;
  if (closed_ || binding_.output->empty()) return false;
  message_.msg_iovlen = binding_.output->PeekIovecs(iov_, kMaxSendParts);
  binding_.output->Pin();
  sending_ = true;
  *message = &message_;
  return true;
}

void UringTransport::OnSent(int result) {
  sending_ = false;
  binding_.output->Unpin();
  if (closed_) return;
  if (result > 0) {
    binding_.output->Consume(result);  // a short send leaves the rest for the next one
    sent_ += result;
  } else if (result < 0) {
    send_error_ = -result;
  }
  binding_.events->OnTransportReady(/*readable=*/false, /*writable=*/true, /*failed=*/false);
}

void UringTransport::Close() {
  if (closed_) return;
  closed_ = true;
  if (receiving_ && !stopping_) uring_->StopReceive(this);
  // At once, not with the turn's submission: the output of a client that stopped reading (what
  // the memory budget closes) can be megabytes, and it is freed as soon as the worker may.
  if (sending_) send_cancelled_ = uring_->CancelSend(this);
}

}  // namespace server
