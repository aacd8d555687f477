#include "server/worker.h"

#include <malloc.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "protocol/frame.h"
#include "protocol/memory_block.h"
#include "server/clock.h"
#include "server/dispatch.h"
#include "server/socket.h"

namespace server {
namespace {

// One read takes up to this much; each worker has one such buffer, shared by its connections.
constexpr size_t kReadBufferBytes = 256 << 10;
// A frame missing at least this much is read into place (one copy saved); below it, reading
// into the shared buffer may bring the following frames in the same call.
constexpr size_t kReadInPlaceMinBytes = 64 << 10;
// An emptied output buffer keeps at most this much allocated, so idle connections stay small.
constexpr size_t kKeepOutputCapacity = 16 << 10;
constexpr int kMaxEvents = 256;
// Per loop iteration, at most this many events of connections on probation are served and this
// many handed-over connections adopted (see worker.h).
constexpr int kProbationBatch = 8;
// epoll data of the two descriptors that are not connections (a Connection* is never 0 or 1).
constexpr uint64_t kWakeTag = 0;
constexpr uint64_t kProbationTag = 1;
// Freed memory goes back to the kernel once no connection has closed for this long, or at
// least this often while they keep closing (see MaybeReleaseMemory).
constexpr int64_t kQuietBeforeReleaseNs = 1'000'000'000;
constexpr int64_t kMaxReleaseIntervalNs = 30'000'000'000;

// At most this many output segments go to one sendmsg (each is up to a 64 KiB segment or one
// large reply, so this is plenty for one call).
constexpr int kMaxSendParts = 16;

bool WouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

// Writes what the socket takes of `output`: one system call whatever the number of segments.
ssize_t Send(int fd, const protocol::OutputQueue& output) {
  absl::string_view parts[kMaxSendParts];
  const int count = output.Peek(parts, kMaxSendParts);
  if (count == 1) return send(fd, parts[0].data(), parts[0].size(), MSG_NOSIGNAL);
  iovec iov[kMaxSendParts];
  for (int i = 0; i < count; ++i) {
    iov[i].iov_base = const_cast<char*>(parts[i].data());
    iov[i].iov_len = parts[i].size();
  }
  msghdr message{};
  message.msg_iov = iov;
  message.msg_iovlen = count;
  return sendmsg(fd, &message, MSG_NOSIGNAL);
}

}  // namespace

Worker::Worker(int id, const ServerOptions& options, ServerStats* stats,
               const handlers::HandlerContext* context)
    : id_(id),
      options_(options),
      server_stats_(stats),
      stats_(stats->worker(id)),
      context_(context),
      idle_timeout_ns_(absl::ToInt64Nanoseconds(options.idle_timeout)),
      frame_timeout_ns_(absl::ToInt64Nanoseconds(options.frame_timeout)),
      read_buffer_(new char[kReadBufferBytes]) {}

Worker::~Worker() {
  Join();
  for (const Handoff& h : handoffs_) close(h.fd);
  for (size_t i = waiting_next_; i < waiting_.size(); ++i) close(waiting_[i].fd);
  for (auto& [ptr, connection] : connections_) close(connection->fd);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (probation_epoll_fd_ >= 0) close(probation_epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::Status Worker::Start() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  probation_epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || probation_epoll_fd_ < 0 || wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("worker ", id_, ": ", std::strerror(errno)));
  }
  // The probation set is itself a descriptor of the main set: readable while any of its
  // connections has an event.
  for (const auto [fd, tag] : {std::pair{wake_fd_, kWakeTag}, std::pair{probation_epoll_fd_, kProbationTag}}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = tag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      return absl::InternalError(absl::StrCat("worker ", id_, ": ", std::strerror(errno)));
    }
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Worker::Adopt(int fd, const handlers::HandlerFactory* factory) {
  {
    std::lock_guard<std::mutex> lock(handoff_mu_);
    handoffs_.push_back({fd, factory});
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void Worker::Drain(int64_t deadline_ns) {
  {
    std::lock_guard<std::mutex> lock(handoff_mu_);
    drain_requested_ = true;
    drain_deadline_ns_ = deadline_ns;
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Run() {
  epoll_event events[kMaxEvents];
  memory_released_ns_ = MonotonicNanos();  // the 30 s ceiling counts from the start
  while (true) {
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, NextTimeoutMillis());
    if (n < 0 && errno != EINTR) PLOG(FATAL) << "epoll_wait";
    now_ns_ = MonotonicNanos();
    bool probation_ready = false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeTag) {
        TakeHandoffs();
      } else if (events[i].data.u64 == kProbationTag) {
        probation_ready = true;
      } else {
        OnEvent(static_cast<Connection*>(events[i].data.ptr), events[i].events);
      }
    }
    // Established connections first; then a few newcomers and connections on probation.
    AdoptWaiting();
    if (probation_ready) ServeProbation();
    ServeReadyList();
    ExpireTimers();
    FreeClosed();
    MaybeReleaseMemory(n);
    UpdatePendingOutputMax();
    if (draining_ && connections_.empty()) return;
  }
}

void Worker::OnEvent(Connection* c, uint32_t ready) {
  if (c->closed) return;
  if (ready & EPOLLOUT) Flush(c);
  if (c->closed) return;
  if (ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    if (c->reading_paused || c->peer_closed) {
      // Not reading from it: an error or hang-up can only be seen by writing.
      if (ready & (EPOLLHUP | EPOLLERR)) Close(c);
    } else {
      OnReadable(c);
    }
  }
  if (draining_ && !c->closed) CloseIfDrained(c);
}

void Worker::ServeProbation() {
  epoll_event events[kProbationBatch];
  const int n = epoll_wait(probation_epoll_fd_, events, kProbationBatch, 0);
  for (int i = 0; i < n; ++i) OnEvent(static_cast<Connection*>(events[i].data.ptr), events[i].events);
}

// A connection that has had a frame answered leaves probation for the main set (UpdateInterest,
// which always follows serving, registers it there).
void Worker::Promote(Connection* c) {
  if (c->in_epoll) epoll_ctl(probation_epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
  c->in_epoll = false;
  c->on_probation = false;
}

void Worker::TakeHandoffs() {
  uint64_t count;
  (void)!read(wake_fd_, &count, sizeof(count));
  bool drain;
  {
    std::lock_guard<std::mutex> lock(handoff_mu_);
    waiting_.insert(waiting_.end(), handoffs_.begin(), handoffs_.end());
    handoffs_.clear();
    drain = drain_requested_;
    deadline_ns_ = drain_deadline_ns_;
  }
  if (drain && !draining_) {
    draining_ = true;
    while (waiting_next_ < waiting_.size()) AdoptWaiting();  // no newcomer is left out
    LOG(INFO) << "worker " << id_ << " draining " << connections_.size() << " connections";
  }
  if (draining_) {
    for (Connection* c : Snapshot()) CloseIfDrained(c);
  }
}

// Adopts up to kProbationBatch handed-over connections (the rest wait for the next iterations:
// a burst of new connections does not hold up the established ones).
void Worker::AdoptWaiting() {
  const size_t end = std::min(waiting_.size(), waiting_next_ + kProbationBatch);
  for (; waiting_next_ < end; ++waiting_next_) {
    const Handoff& h = waiting_[waiting_next_];
    auto owned = std::make_unique<Connection>(h.fd, options_.max_frame_bytes, (*h.factory)(*context_));
    Connection* c = owned.get();
    connections_.emplace(c, std::move(owned));
    stats_.active_connections.Add(1);
    idle_timers_.Touch(&c->idle_timer, now_ns_);
    UpdateInterest(c);
  }
  if (waiting_next_ == waiting_.size()) {
    waiting_.clear();
    waiting_next_ = 0;
  }
}

int Worker::NextTimeoutMillis() const {
  if (!ready_.empty() || waiting_next_ < waiting_.size()) return 0;
  int64_t next = INT64_MAX;
  if (const TimerNode* oldest = idle_timers_.Oldest()) next = oldest->started + idle_timeout_ns_;
  if (release_memory_pending_) next = std::min(next, NextMemoryReleaseNs());
  if (const TimerNode* oldest = frame_timers_.Oldest()) {
    next = std::min(next, oldest->started + frame_timeout_ns_);
  }
  if (draining_) next = std::min(next, deadline_ns_);
  if (next == INT64_MAX) return -1;
  const int64_t wait_ns = next - MonotonicNanos();
  if (wait_ns <= 0) return 0;
  return static_cast<int>(std::min<int64_t>((wait_ns + 999'999) / 1'000'000, 60'000));
}

void Worker::OnReadable(Connection* c) {
  ssize_t n;
  size_t missing = 0;
  char* in_place = c->decoder.ReadSpace(&missing);
  if (in_place != nullptr && missing >= kReadInPlaceMinBytes) {
    // The rest of a large frame: straight into its place, not through the shared buffer.
    n = read(c->fd, in_place, std::min(missing, kReadBufferBytes));
    if (n > 0) c->decoder.CommitRead(n);
  } else {
    n = read(c->fd, read_buffer_.get(), kReadBufferBytes);
    if (n > 0) c->decoder.Feed(absl::string_view(read_buffer_.get(), n));
  }
  if (n > 0) {
    stats_.bytes_in.Add(n);
    idle_timers_.Touch(&c->idle_timer, now_ns_);
    const int served = ServeFrames(c);
    if (c->closed) return;
    c->decoder.Retain();  // the read buffer is about to serve another connection
    Flush(c);
    if (!c->closed) AfterIo(c, served > 0);
    return;
  }
  if (n < 0 && WouldBlock(errno)) return;
  if (n == 0) {
    // The client has finished sending. Answer what it sent, then close (see Flush/AfterIo).
    c->peer_closed = true;
    UpdateInterest(c);
    if (c->output.empty() && !c->ready) Close(c);
    return;
  }
  VLOG(1) << "read from " << PeerName(c->fd) << ": " << std::strerror(errno);
  Close(c);
}

int Worker::ServeFrames(Connection* c) {
  const int64_t started_ns = now_ns_;
  const DispatchResult result = DispatchFrames(
      c->decoder, *c->handler, c->output,
      {.max_frame_bytes = options_.max_frame_bytes,
       .max_pending_output_bytes = options_.max_pending_output_bytes,
       .max_frames = options_.max_frames_per_batch});
  if (result.frames > 0) {
    if (c->on_probation) Promote(c);
    stats_.frames_in.Add(result.frames);
    stats_.frames_out.Add(result.frames);
    stats_.handler_errors.Add(result.handler_errors);
    // Every frame of the batch waited from the read to now; measured once per batch.
    stats_.latency.Record(now_ns_, absl::Nanoseconds(MonotonicNanos() - started_ns),
                          result.frames);
  }
  switch (result.stopped) {
    case StopReason::kNeedMoreBytes:
      break;
    case StopReason::kOutputFull:
      // The client is not reading its replies: stop reading its requests until it does.
      if (!c->reading_paused) {
        c->reading_paused = true;
        stats_.reads_paused.Add(1);
        frame_timers_.Remove(&c->frame_timer);  // the wait is ours now, not the client's
      }
      break;
    case StopReason::kBatchLimit:
      stats_.fairness_yields.Add(1);
      if (!c->ready) {
        c->ready = true;
        ready_.push_back(c);
      }
      break;
    case StopReason::kProtocolError:
      if (int suppressed; log_limiter_.Allow(now_ns_, &suppressed)) {
        LOG(WARNING) << "closing " << PeerName(c->fd) << ": " << result.error.message()
                     << LogLimiter::Note(suppressed);
      }
      stats_.closed_protocol_error.Add(1);
      Close(c);
      break;
  }
  return result.frames;
}

void Worker::Flush(Connection* c) {
  if (!c->output.empty()) {
    const ssize_t n = Send(c->fd, c->output);
    if (n < 0 && !WouldBlock(errno)) {
      VLOG(1) << "write to " << PeerName(c->fd) << ": " << std::strerror(errno);
      Close(c);
      return;
    }
    if (n > 0) {
      c->output.Consume(n);
      stats_.bytes_out.Add(n);
      idle_timers_.Touch(&c->idle_timer, now_ns_);
    }
  }
  if (c->output.empty()) {
    c->output.Clear(kKeepOutputCapacity);
    if (c->reading_paused) {
      c->reading_paused = false;
      if (c->decoder.buffered_bytes() > 0 && !c->ready) {  // frames read before the pause
        c->ready = true;
        ready_.push_back(c);
      }
    }
    if (c->peer_closed && !c->ready) {
      Close(c);
      return;
    }
  }
  UpdateInterest(c);
}

// Keeps the frame timer honest after a read or a batch: it runs only while the client owes the
// rest of a frame it has started.
void Worker::AfterIo(Connection* c, bool frame_completed) {
  const bool incomplete_frame = c->decoder.buffered_bytes() > 0 && !c->ready && !c->reading_paused;
  if (!incomplete_frame) {
    frame_timers_.Remove(&c->frame_timer);
  } else if (frame_completed || !c->frame_timer.linked()) {
    frame_timers_.Touch(&c->frame_timer, now_ns_);  // a new frame started
  }
}

void Worker::UpdateInterest(Connection* c) {
  uint32_t wanted = 0;
  if (!c->reading_paused && !c->peer_closed) wanted |= EPOLLIN;
  if (!c->output.empty()) wanted |= EPOLLOUT;
  if (c->in_epoll && c->epoll_events == wanted) return;
  epoll_event event{};
  event.events = wanted;
  event.data.ptr = c;
  const int set = c->on_probation ? probation_epoll_fd_ : epoll_fd_;
  if (epoll_ctl(set, c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &event) != 0) {
    PLOG(ERROR) << "epoll_ctl for " << PeerName(c->fd);
    Close(c);
    return;
  }
  c->in_epoll = true;
  if ((wanted & EPOLLOUT) && !(c->epoll_events & EPOLLOUT)) writers_.push_back(c);
  c->epoll_events = wanted;
}

void Worker::ServeReadyList() {
  std::vector<Connection*> ready;
  ready.swap(ready_);
  for (Connection* c : ready) {
    if (c->closed) continue;
    c->ready = false;
    if (c->reading_paused) continue;  // resumed (and re-listed) when its output drains
    const int served = ServeFrames(c);
    if (c->closed) continue;
    c->decoder.Retain();
    Flush(c);
    if (c->closed) continue;
    AfterIo(c, served > 0);
    if (draining_) CloseIfDrained(c);
  }
}

void Worker::ExpireTimers() {
  while (TimerNode* oldest = idle_timers_.Oldest()) {
    if (now_ns_ - oldest->started < idle_timeout_ns_) break;
    VLOG(1) << "closing idle connection " << PeerName(oldest->owner->fd);
    stats_.closed_idle_timeout.Add(1);
    Close(oldest->owner);
  }
  while (TimerNode* oldest = frame_timers_.Oldest()) {
    if (now_ns_ - oldest->started < frame_timeout_ns_) break;
    if (int suppressed; log_limiter_.Allow(now_ns_, &suppressed)) {
      LOG(WARNING) << "closing " << PeerName(oldest->owner->fd) << ": frame not completed within "
                   << options_.frame_timeout << LogLimiter::Note(suppressed);
    }
    stats_.closed_frame_timeout.Add(1);
    Close(oldest->owner);
  }
  if (draining_ && now_ns_ >= deadline_ns_ && !connections_.empty()) {
    LOG(WARNING) << "worker " << id_ << ": shutdown grace over, closing "
                 << connections_.size() << " connections";
    for (Connection* c : Snapshot()) Close(c);
  }
}

// While draining: a connection with nothing to answer and nothing more in flight is done.
void Worker::CloseIfDrained(Connection* c) {
  if (c->closed || !c->output.empty() || c->ready || c->decoder.buffered_bytes() > 0) return;
  char byte;
  const ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return;  // requests are waiting: the loop will read and answer them
  Close(c);
}

std::vector<Connection*> Worker::Snapshot() const {
  std::vector<Connection*> all;
  all.reserve(connections_.size());
  for (const auto& entry : connections_) all.push_back(entry.first);
  return all;
}

void Worker::Close(Connection* c) {
  if (c->closed) return;
  c->closed = true;
  idle_timers_.Remove(&c->idle_timer);
  frame_timers_.Remove(&c->frame_timer);
  close(c->fd);  // also removes it from the epoll set
  stats_.active_connections.Add(-1);
  server_stats_->open_connections.fetch_sub(1, std::memory_order_relaxed);
  // Freed at the end of the loop iteration: later events of this batch may still name it.
  auto it = connections_.find(c);
  closed_.push_back(std::move(it->second));
  connections_.erase(it);
}

void Worker::FreeClosed() {
  if (closed_.empty()) return;
  ready_.erase(std::remove_if(ready_.begin(), ready_.end(), [](Connection* c) { return c->closed; }),
               ready_.end());
  writers_.erase(
      std::remove_if(writers_.begin(), writers_.end(), [](Connection* c) { return c->closed; }),
      writers_.end());
  closed_.clear();  // runs each handler's destructor: its "connection closed" notice
  release_memory_pending_ = true;
  connections_freed_ns_ = now_ns_;
}

// main.cc keeps freed memory in the allocator's heaps, so that a busy server reuses it instead of
// faulting fresh pages in. Once connections have closed (an attack that ended, large requests
// that are done), hand it back to the kernel, but only when the worker is quiet: a second after
// the last close, in a loop iteration with at most one event. A trim takes milliseconds, and
// memory trimmed while connections keep coming and going (churn, a garbage flood) would only be
// faulted in again; a server that never stops closing connections still trims every 30 s.
int64_t Worker::NextMemoryReleaseNs() const {
  return std::min(connections_freed_ns_ + kQuietBeforeReleaseNs,
                  memory_released_ns_ + kMaxReleaseIntervalNs);
}

void Worker::MaybeReleaseMemory(int events) {
  if (!release_memory_pending_ || events > 1 || now_ns_ < NextMemoryReleaseNs()) return;
  protocol::MemoryBlock::ReleaseCachedBlocks();
  malloc_trim(0);
  release_memory_pending_ = false;
  memory_released_ns_ = now_ns_;
}

void Worker::UpdatePendingOutputMax() {
  int64_t largest = 0;
  size_t kept = 0;
  for (Connection* c : writers_) {
    if (!(c->epoll_events & EPOLLOUT)) continue;  // drained since
    writers_[kept++] = c;
    largest = std::max<int64_t>(largest, c->output.size());
  }
  writers_.resize(kept);
  if (stats_.pending_output_max.value() != largest) stats_.pending_output_max.Set(largest);
}

}  // namespace server
