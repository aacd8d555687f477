#include "server/completion_io.h"

#include "server/socket.h"

#include <sys/epoll.h>

#include <cerrno>
#include <memory>

namespace server {

CompletionIo::CompletionIo(int fd, common::Uring* uring, protocol::FrameDecoder* decoder,
                           protocol::OutputQueue* output, common::Watcher* events)
    : fd_(fd), uring_(uring), decoder_(decoder), output_(output), events_(events) {
  message_.msg_iov = iov_;
}

void CompletionIo::SetReceiving(bool wanted) {
  want_receive_ = wanted;
  if (closed_ || end_ != 0) return;
  if (wanted && !receiving_) {
    uring_->StartReceive(fd_, this);
    receiving_ = true;
  } else if (!wanted && receiving_ && !stopping_) {
    uring_->StopReceive(this);  // receiving_ stays set until the receive reports its end
    stopping_ = true;
  }
}

ssize_t CompletionIo::Receive() {
  if (received_ > 0) {
    const int64_t bytes = received_;
    received_ = 0;
    return bytes;
  }
  if (end_ == 0) {
    errno = EAGAIN;
    return -1;
  }
  end_reported_ = true;
  if (end_ == kEndOfStream) return 0;
  errno = end_;
  return -1;
}

void CompletionIo::OnReceived(absl::string_view data) {
  if (closed_) return;
  decoder_->Feed(data);
  received_ += data.size();
  events_->OnEvents(EPOLLIN);
  decoder_->Retain();  // the buffer goes back to the ring: keep what was not answered
}

void CompletionIo::OnReceiveStopped(int result) {
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
  events_->OnEvents(EPOLLIN);
}

int CompletionIo::ReadDirectly() {
  thread_local std::unique_ptr<char[]> buffer(new char[kDirectReadBytes]);
  const ssize_t n = recv(fd_, buffer.get(), kDirectReadBytes, MSG_DONTWAIT);
  if (n < 0) return WouldBlock(errno) ? -EAGAIN : -errno;
  if (n > 0) OnReceived(absl::string_view(buffer.get(), n));
  return static_cast<int>(n);
}

ssize_t CompletionIo::Send() {
  if (send_error_ != 0) {
    errno = send_error_;
    return -1;
  }
  if (!closed_ && !sending_ && !send_queued_ && !output_->empty()) {
    uring_->QueueSend(fd_, this);
    send_queued_ = true;
  }
  const int64_t bytes = sent_;
  sent_ = 0;
  if (bytes == 0) {
    errno = EAGAIN;
    return -1;
  }
  return bytes;
}

bool CompletionIo::PrepareSend(const msghdr** message) {
  send_queued_ = false;
  if (closed_ || output_->empty()) return false;
  message_.msg_iovlen = output_->PeekIovecs(iov_, kMaxSendParts);
  output_->Pin();
  sending_ = true;
  *message = &message_;
  return true;
}

void CompletionIo::OnSent(int result) {
  sending_ = false;
  output_->Unpin();
  if (closed_) return;
  if (result > 0) {
    output_->Consume(result);  // a short send leaves the rest for the next one
    sent_ += result;
  } else if (result < 0) {
    send_error_ = -result;
  }
  events_->OnEvents(EPOLLOUT);
}

void CompletionIo::Close() {
  if (closed_) return;
  closed_ = true;
  if (receiving_ && !stopping_) uring_->StopReceive(this);
  // At once, not with the turn's submission: the output of a client that stopped reading (what
  // the memory budget closes) can be megabytes, and it is freed as soon as the worker may.
  if (sending_) send_cancelled_ = uring_->CancelSend(this);
}

}  // namespace server
