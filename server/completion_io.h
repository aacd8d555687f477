// CompletionIo: a connection's socket I/O on the io_uring backend (common/uring.h), shaped like
// read(2) and send(2) so that the worker's policies stay the same on both backends.
//
// Receiving: one multishot receive is armed while the connection is read. Each chunk the kernel
// completes is fed to the connection's decoder at once (the ring's buffer is lent only for that
// call), then the connection is told as if the socket were readable; Receive() reports what
// arrived since it was last asked, like a read(2) that returns bytes already in place. Pausing
// the connection cancels the receive, so a client the server does not read fills its own socket
// buffer, not the ring; the few chunks that complete before the cancellation are kept in the
// decoder and served on resumption.
//
// Sending: Send() asks for one send of the pending output, described when the loop submits the
// turn's operations, so replies made during a turn leave together. The output is pinned until the
// send completes (protocol/output_queue.h); the send's result arrives as a writable event, and
// the next Send() reports it.
//
// Lifetime: the object must live until Idle() (the kernel may still write into a receive
// buffer of its own, or read the output, before the cancellations complete): Close() cancels,
// and the worker frees the connection once it is idle.
//
// Thread rule: the loop thread only.
#ifndef SERVER_COMPLETION_IO_H_
#define SERVER_COMPLETION_IO_H_

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>

#include "common/poller.h"
#include "common/uring.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"

namespace server {

class CompletionIo : private common::Uring::Socket {
 public:
  // `decoder` and `output` are the connection's; `events` (the connection) is told EPOLLIN
  // when input or its end has arrived and EPOLLOUT when a send has completed.
  CompletionIo(int fd, common::Uring* uring, protocol::FrameDecoder* decoder,
               protocol::OutputQueue* output, common::Watcher* events);

  // Arms or cancels the receive.
  void SetReceiving(bool wanted);
  // Like read(2), except that the bytes are in the decoder already: bytes received since the
  // last call (> 0), 0 at the end of the stream, -1 with errno (EAGAIN: nothing new).
  ssize_t Receive();
  // Input or its end has arrived and not been reported by Receive().
  bool input_pending() const { return received_ > 0 || (end_ != 0 && !end_reported_); }
  // Like send(2) on the pending output: bytes whose send completed since the last call, or -1
  // with errno after a failed send. Asks for a send of what is pending, if none is in flight.
  ssize_t Send();
  // A send is in flight: the output's front is the kernel's until it completes.
  bool sending() const { return sending_; }
  // Cancels what is in flight; nothing more is delivered to the connection. The send is
  // cancelled at once, so that the output may be freed now (see output_released()).
  void Close();
  // After Close(): the kernel no longer reads the output (true unless a send's cancellation
  // could not be done at once).
  bool output_released() const { return !sending_ || send_cancelled_; }
  // Nothing is in flight: the object may be destroyed.
  bool Idle() const { return !receiving_ && !sending_ && !send_queued_; }

 private:
  static constexpr int kMaxSendParts = protocol::OutputQueue::kMaxWriteParts;
  static constexpr int kEndOfStream = -1;  // in end_; otherwise an errno
  // A read that the ring could not serve (-ENOBUFS) goes straight to the socket, this much.
  static constexpr size_t kDirectReadBytes = 64 << 10;

  void OnReceived(absl::string_view data) override;
  void OnReceiveStopped(int result) override;
  bool PrepareSend(const msghdr** message) override;
  // recv(2) into a buffer of the thread's; the bytes go the way of OnReceived. Returns the
  // bytes, 0 at the end of the stream, or -errno (-EAGAIN: nothing there).
  int ReadDirectly();
  void OnSent(int result) override;

  const int fd_;
  common::Uring* const uring_;
  protocol::FrameDecoder* const decoder_;
  protocol::OutputQueue* const output_;
  common::Watcher* const events_;

  bool want_receive_ = false;
  bool receiving_ = false;     // a receive is armed (or its cancellation not yet complete)
  bool stopping_ = false;      // its cancellation is asked for
  int64_t received_ = 0;       // fed to the decoder, not yet reported by Receive()
  int end_ = 0;                // kEndOfStream or an errno once the stream has ended
  bool end_reported_ = false;
  bool send_queued_ = false;   // Uring::QueueSend called, PrepareSend not yet
  bool sending_ = false;       // a send is in flight
  int64_t sent_ = 0;           // completed, not yet reported by Send()
  int send_error_ = 0;
  bool send_cancelled_ = false;  // the send in flight no longer reads the output
  bool closed_ = false;
  iovec iov_[kMaxSendParts];
  msghdr message_{};
};

}  // namespace server

#endif  // SERVER_COMPLETION_IO_H_
