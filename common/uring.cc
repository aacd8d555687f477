#include "common/uring.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace common {
namespace {

// Submission queue entries; the completion queue gets twice as many. A turn that fills it
// submits early (NextSqe), so this bounds nothing but the batch.
constexpr unsigned kQueueEntries = 4096;
constexpr uint16_t kBufferGroup = 0;

// What an operation is, in the low bits of its user_data; the rest is a Socket* (objects are
// at least 8-aligned) or a poll's index.
enum Tag : uint64_t { kReceive = 0, kSend = 1, kPoll = 2, kIgnored = 3 };
constexpr uint64_t kTagBits = 3;
constexpr uint64_t kTagMask = (1u << kTagBits) - 1;

uint64_t UserData(const void* object, Tag tag) {
  const uint64_t address = reinterpret_cast<uintptr_t>(object);
  DCHECK_EQ(address & kTagMask, 0u);
  return address | tag;
}

absl::Status Errno(absl::string_view what, int error) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(error)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Uring>> Uring::Create() {
  std::unique_ptr<Uring> uring(new Uring());
  io_uring_params params{};
  // One thread submits, and completions' work runs when it waits for them (not by
  // interrupting it): the cheapest mode, kernel 6.1 and later. Older kernels get the default.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
  int result = io_uring_queue_init_params(kQueueEntries, &uring->ring_, &params);
  if (result == -EINVAL) {
    params = io_uring_params{};
    result = io_uring_queue_init_params(kQueueEntries, &uring->ring_, &params);
  }
  if (result < 0) return Errno("io_uring_setup", -result);
  uring->ring_ready_ = true;
  if (!(params.features & IORING_FEAT_EXT_ARG)) {
    return absl::UnavailableError("io_uring: the kernel cannot wait with a timeout (no EXT_ARG)");
  }

  // The provided-buffer ring: the kernel takes receive buffers from it, the loop gives them back.
  void* ring_memory = mmap(nullptr, kBufferCount * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                           MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_memory == MAP_FAILED) return Errno("mmap", errno);
  uring->buffer_ring_ = static_cast<io_uring_buf_ring*>(ring_memory);
  io_uring_buf_ring_init(uring->buffer_ring_);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<uintptr_t>(ring_memory);
  registration.ring_entries = kBufferCount;
  registration.bgid = kBufferGroup;
  result = io_uring_register_buf_ring(&uring->ring_, &registration, 0);
  if (result < 0) return Errno("io_uring_register_buf_ring", -result);
  void* buffers = mmap(nullptr, size_t{kBufferCount} * kBufferBytes, PROT_READ | PROT_WRITE,
                       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (buffers == MAP_FAILED) return Errno("mmap", errno);
  uring->buffers_ = static_cast<char*>(buffers);
  for (unsigned id = 0; id < kBufferCount; ++id) {
    io_uring_buf_ring_add(uring->buffer_ring_, uring->BufferAt(id),
                          kBufferBytes, id, io_uring_buf_ring_mask(kBufferCount), id);
  }
  io_uring_buf_ring_advance(uring->buffer_ring_, kBufferCount);
  return uring;
}

Uring::~Uring() {
  // Closing the ring cancels what is still in flight; the loop waits for its sockets'
  // operations before it stops, so this is only the loop's own polls.
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (buffers_ != nullptr) munmap(buffers_, size_t{kBufferCount} * kBufferBytes);
  if (buffer_ring_ != nullptr) munmap(buffer_ring_, kBufferCount * sizeof(io_uring_buf));
}

absl::Status Uring::Enable() {
  // Debian's liburing 2.3 declares io_uring_enable_rings() but does not export it.
  if ((ring_.flags & IORING_SETUP_R_DISABLED) &&
      syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0) {
    return Errno("io_uring_register(ENABLE_RINGS)", errno);
  }
  // This thread's io_uring_enter calls then skip looking the ring's descriptor up (kernel 5.18+;
  // an optimisation only, so a refusal is ignored).
  io_uring_register_ring_fd(&ring_);
  return absl::OkStatus();
}

io_uring_sqe* Uring::NextSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {  // the queue is full: hand the kernel what is there
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  CHECK(sqe != nullptr) << "io_uring submission queue full after a submit";
  return sqe;
}

void Uring::WatchReadable(int fd, Watcher* watcher, bool multishot) {
  polls_.push_back({fd, watcher, multishot});
  ArmPoll(polls_.size() - 1);
}

void Uring::ArmPoll(size_t index) {
  io_uring_sqe* sqe = NextSqe();
  if (polls_[index].multishot) {
    io_uring_prep_poll_multishot(sqe, polls_[index].fd, POLLIN);
  } else {
    io_uring_prep_poll_add(sqe, polls_[index].fd, POLLIN);
  }
  io_uring_sqe_set_data64(sqe, (index << kTagBits) | kPoll);
}

void Uring::StartReceive(int fd, Socket* socket) {
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, UserData(socket, kReceive));
}

void Uring::StopReceive(Socket* socket) { Cancel(UserData(socket, kReceive)); }

void Uring::QueueSend(int fd, Socket* socket) { queued_sends_.push_back({fd, socket}); }

bool Uring::CancelSend(Socket* socket) {
  io_uring_sync_cancel_reg cancel{};
  cancel.addr = UserData(socket, kSend);
  cancel.timeout.tv_sec = -1;  // no limit: a send cancels at once
  cancel.timeout.tv_nsec = -1;
  // -ENOENT: the send has completed already; its memory is not read either way. -EINTR: a
  // signal came while the kernel waited for a send that was running; ask again.
  int result;
  do {
    result = io_uring_register_sync_cancel(&ring_, &cancel);
  } while (result == -EINTR);
  if (result == 0 || result == -ENOENT) return true;
  LOG(ERROR) << "cancelling a send at once: " << std::strerror(-result)
             << "; cancelling it with the next submission";
  Cancel(UserData(socket, kSend));
  return false;
}

void Uring::Cancel(uint64_t user_data) {
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_cancel64(sqe, user_data, 0);
  io_uring_sqe_set_data64(sqe, kIgnored);
}

// The sends asked for during the turn, each describing its output as it is now.
void Uring::SubmitQueuedSends() {
  for (const QueuedSend& queued : queued_sends_) {
    const msghdr* message = nullptr;
    if (!queued.socket->PrepareSend(&message)) continue;
    io_uring_sqe* sqe = NextSqe();
    if (message->msg_iovlen == 1) {
      io_uring_prep_send(sqe, queued.fd, message->msg_iov[0].iov_base,
                         message->msg_iov[0].iov_len, MSG_NOSIGNAL);
    } else {
      io_uring_prep_sendmsg(sqe, queued.fd, message, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, UserData(queued.socket, kSend));
  }
  queued_sends_.clear();
}

void Uring::SubmitAndWait(int timeout_ms) {
  SubmitQueuedSends();
  io_uring_cqe* cqe = nullptr;
  int result;
  if (timeout_ms < 0) {
    result = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, nullptr, nullptr);
  } else {
    __kernel_timespec timeout{.tv_sec = timeout_ms / 1000,
                              .tv_nsec = (timeout_ms % 1000) * 1'000'000LL};
    result = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
  }
  if (result < 0 && result != -ETIME && result != -EINTR && result != -EBUSY) {
    LOG(FATAL) << "io_uring_enter: " << std::strerror(-result);
  }
}

int Uring::Dispatch() {
  // Completions may queue operations (and, if the queue fills, submit them) but never reap:
  // the loop below is the only consumer.
  unsigned head;
  io_uring_cqe* cqe;
  int count = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    Complete(*cqe);
    ++count;
  }
  io_uring_cq_advance(&ring_, count);
  return count;
}

void Uring::Complete(const io_uring_cqe& cqe) {
  const uint64_t data = cqe.user_data;
  const bool more = cqe.flags & IORING_CQE_F_MORE;
  switch (data & kTagMask) {
    case kReceive: {
      Socket* socket = reinterpret_cast<Socket*>(data & ~kTagMask);
      if (cqe.flags & IORING_CQE_F_BUFFER) {
        const unsigned id = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
        if (cqe.res > 0) {
          socket->OnReceived(absl::string_view(BufferAt(id), cqe.res));
        }
        RecycleBuffer(id);
      }
      if (!more) {
        if (cqe.res == -ENOBUFS) ++no_buffer_stops_;
        socket->OnReceiveStopped(cqe.res > 0 ? -EAGAIN : cqe.res);
      }
      return;
    }
    case kSend:
      reinterpret_cast<Socket*>(data & ~kTagMask)->OnSent(cqe.res);
      return;
    case kPoll: {
      const size_t index = data >> kTagBits;
      if (cqe.res > 0) polls_[index].watcher->OnEvents(static_cast<uint32_t>(cqe.res));
      if (more) return;
      if (cqe.res >= 0 || cqe.res == -ECANCELED || cqe.res == -EAGAIN) {
        ArmPoll(index);  // one-shot, or a multishot the kernel ended
      } else {  // arming it again would only fail again, in a loop
        LOG(ERROR) << "io_uring: poll of descriptor " << polls_[index].fd
                   << " failed: " << std::strerror(-cqe.res);
      }
      return;
    }
    default:  // a cancellation's own result
      return;
  }
}

void Uring::RecycleBuffer(unsigned id) {
  io_uring_buf_ring_add(buffer_ring_, BufferAt(id), kBufferBytes, id,
                        io_uring_buf_ring_mask(kBufferCount), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

}  // namespace common
