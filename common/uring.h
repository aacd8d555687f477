// Uring: one thread's io_uring (through liburing), for an EventLoop on the io_uring backend.
//
// Sockets receive and send as completions instead of readiness:
//   - a receive is multishot: armed once, it brings every chunk the socket gets, each in a
//     buffer the kernel takes from a ring of provided buffers. The buffer is lent to the socket
//     for the length of OnReceived() and goes back to the ring right after, so the ring is the
//     only receive memory, whatever the number of connections;
//   - a send names the socket's own memory (its output queue), which must not move until
//     OnSent(). A socket asks with QueueSend() and describes what to send only when the turn's
//     operations are submitted (PrepareSend), so replies produced during a turn go in one send.
// A few descriptors of the loop's own are watched for readability (its epoll set, its wake-up
// eventfd). Nothing reaches the kernel until SubmitAndWait(): a loop turn's operations and its
// wait are one io_uring_enter.
//
//   absl::StatusOr<std::unique_ptr<Uring>> uring = Uring::Create();  // fails where io_uring
//                                                                    // cannot be set up
//   (*uring)->WatchReadable(eventfd, &watcher, /*multishot=*/true);
//   (*uring)->StartReceive(fd, &socket);
//   for (;;) { (*uring)->SubmitAndWait(timeout_ms); (*uring)->Dispatch(); }
//
// Thread rule: one thread, the one that called Enable() (the ring is single-issuer).
#ifndef COMMON_URING_H_
#define COMMON_URING_H_

#include <liburing.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/poller.h"

namespace common {

class Uring {
 public:
  // A socket's side of its operations. An object with an operation in flight must stay alive
  // until that operation's completion has been delivered (receive stopped, send done).
  class Socket {
   public:
    virtual ~Socket() = default;
    // Bytes received; `data` is valid during the call only.
    virtual void OnReceived(absl::string_view data) = 0;
    // The armed receive has ended: 0 at end of stream, or -errno: -ECANCELED after
    // StopReceive(), -ENOBUFS when the buffer ring was empty, -EAGAIN when the kernel ended it
    // for no error (both of the latter: arm it again to go on).
    virtual void OnReceiveStopped(int result) = 0;
    // Called when the turn's operations are submitted, after QueueSend(): points `*message` at
    // what to send (memory that stays put until OnSent) and returns true, or false if nothing.
    virtual bool PrepareSend(const msghdr** message) = 0;
    // The send has completed: bytes sent (possibly fewer than asked) or -errno.
    virtual void OnSent(int result) = 0;
  };

  // The provided buffers: their number (a power of two) and size, 2 MiB per loop. A 64 KiB
  // frame takes 4 of them; a turn of up to 128 busy connections finds one each, and -ENOBUFS
  // handles more (docs/DESIGN.md, "The io_uring backend").
  static constexpr unsigned kBufferCount = 128;
  static constexpr unsigned kBufferBytes = 16 << 10;

  // Sets up a ring, disabled until Enable() on the thread that will use it.
  static absl::StatusOr<std::unique_ptr<Uring>> Create();
  ~Uring();
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;

  // On the thread that will use the ring, before anything else.
  absl::Status Enable();

  // Calls watcher->OnEvents(EPOLLIN...) each time `fd` is readable; multishot for descriptors
  // whose every wake-up matters (an eventfd), one-shot and re-armed after the call for a
  // level-triggered one (an epoll set, which stays readable until it is drained).
  void WatchReadable(int fd, Watcher* watcher, bool multishot);

  void StartReceive(int fd, Socket* socket);
  void StopReceive(Socket* socket);       // OnReceiveStopped(-ECANCELED) or another end follows
  void QueueSend(int fd, Socket* socket);  // at most one send in flight per socket
  // Cancels the socket's send and returns true once the kernel no longer reads its memory,
  // which may then be freed: a closing connection's unsent output (megabytes, for a client
  // that stopped reading) goes at once, not a turn later. One system call; OnSent(-ECANCELED),
  // or the send's result if it had completed, still follows. False if the kernel refused
  // (logged): the cancellation goes with the next submission, the memory is the kernel's until
  // OnSent.
  bool CancelSend(Socket* socket);

  // Submits the turn's operations and waits up to `timeout_ms` (-1: no limit, 0: not at all)
  // for at least one completion.
  void SubmitAndWait(int timeout_ms);
  // Delivers every completion there is; returns how many.
  int Dispatch();

  // Receives stopped because the buffer ring was empty (then re-armed by their sockets).
  uint64_t no_buffer_stops() const { return no_buffer_stops_; }

 private:
  Uring() = default;
  io_uring_sqe* NextSqe();
  void Cancel(uint64_t user_data);  // the operation's end follows as its own completion
  char* BufferAt(unsigned id) const { return buffers_ + size_t{id} * kBufferBytes; }
  void SubmitQueuedSends();
  void Complete(const io_uring_cqe& cqe);
  void ArmPoll(size_t index);
  void RecycleBuffer(unsigned id);

  struct Poll {
    int fd;
    Watcher* watcher;
    bool multishot;
  };
  struct QueuedSend {
    int fd;
    Socket* socket;
  };

  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;  // mmap'd, shared with the kernel
  char* buffers_ = nullptr;                   // kBufferCount x kBufferBytes, mmap'd
  std::vector<Poll> polls_;
  std::vector<QueuedSend> queued_sends_;
  uint64_t no_buffer_stops_ = 0;
};

}  // namespace common

#endif  // COMMON_URING_H_
