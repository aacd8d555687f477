// UringTransport: plain text by io_uring completions (common/uring.h), for connections past
// probation on the io_uring backend.
//
// Receiving: one multishot receive is armed while the connection reads. Each chunk the kernel
// completes is fed to the decoder at once (the ring's buffer is lent only for that call), and
// the connection is told that reading may make progress; Read() reports what arrived since it
// was last asked. Waiting without reading cancels the receive, so a client the server does not
// read fills its own socket buffer, not the ring; the few chunks that complete before the
// cancellation are kept in the decoder and served on resumption (input_pending).
//
// Sending: Write() asks for one send of the pending output, described when the loop submits the
// turn's operations, so replies made during a turn leave together. The output is pinned until
// the send completes (protocol/output_queue.h); the connection is then told that writing may
// make progress, and the next Write() reports the bytes.
//
// Lifetime: the object must live until idle() (the kernel may still write into a receive
// buffer of its own, or read the output, before the cancellations complete): Close() cancels,
// and the worker frees the connection once it is idle.
//
// Thread rule: the loop thread only.
#ifndef SERVER_NET_URING_TRANSPORT_H_
#define SERVER_NET_URING_TRANSPORT_H_

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>

#include "common/uring.h"
#include "server/net/transport.h"

namespace server {

class UringTransport : public Transport, private common::Uring::Socket {
 public:
  UringTransport(const Binding& binding, common::Uring* uring);

  absl::Status Wait(bool read, bool write) override;  // arms or cancels the receive
  IoResult Read() override;
  IoResult Write() override;
  void WriteNow() override;
  bool input_pending() const override { return received_ > 0 || (end_ != 0 && !end_reported_); }
  // Cancels what is in flight. The send is cancelled at once, so that the output may be freed
  // now (output_released).
  void Close() override;
  bool idle() const override { return !receiving_ && !sending_ && !send_queued_; }
  bool output_released() const override { return !sending_ || send_cancelled_; }

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

  void SetReceiving(bool wanted);

  const Binding binding_;
  common::Uring* const uring_;

  bool want_receive_ = false;
  bool receiving_ = false;     // a receive is armed (or its cancellation not yet complete)
  bool stopping_ = false;      // its cancellation is asked for
  int64_t received_ = 0;       // fed to the decoder, not yet reported by Read()
  int end_ = 0;                // kEndOfStream or an errno once the stream has ended
  bool end_reported_ = false;
  bool send_queued_ = false;   // Uring::QueueSend called, PrepareSend not yet
  bool sending_ = false;       // a send is in flight
  int64_t sent_ = 0;           // completed, not yet reported by Write()
  int send_error_ = 0;
  bool send_cancelled_ = false;  // the send in flight no longer reads the output
  bool closed_ = false;
  iovec iov_[kMaxSendParts];
  msghdr message_{};
};

}  // namespace server

#endif  // SERVER_NET_URING_TRANSPORT_H_
