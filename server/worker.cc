#include "server/worker.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "common/clock.h"
#include "common/thread_name.h"
#include "glog/logging.h"
#include "protocol/frame.h"
#include "server/socket.h"

namespace server {
namespace {

// One read takes up to this much; each worker has one such buffer, shared by its connections.
constexpr size_t kReadBufferBytes = 256 << 10;

std::atomic<uint64_t> next_connection_id{1};

}  // namespace

Worker::Worker(int id, const ServerOptions& options, ServerStats* stats, MemoryBudget* budget,
               const handlers::HandlerContext* context, HandlerPool* pool,
               std::function<void(int)> evict_elsewhere)
    : id_(id),
      options_(options),
      server_stats_(stats),
      stats_(stats->worker(id)),
      context_(context),
      idle_timeout_ns_(absl::ToInt64Nanoseconds(options.idle_timeout)),
      frame_timeout_ns_(absl::ToInt64Nanoseconds(options.frame_timeout)),
      request_deadlines_(options.handler_timeout),
      later_{pool, &request_deadlines_, &loop_, this, options.max_frame_bytes,
             budget},
      read_buffer_(new char[kReadBufferBytes]),
      memory_release_(common::MonotonicNanos()),
      budget_(*budget),
      evict_elsewhere_(std::move(evict_elsewhere)) {}

Worker::~Worker() {
  Join();
  for (size_t i = waiting_next_; i < waiting_.size(); ++i) close(waiting_[i].fd);
}

absl::Status Worker::Start() {
  if (absl::Status status = loop_.Init(options_.io); !status.ok()) return status;
  if (absl::Status status = probation_.Init(&loop_.poller()); !status.ok()) return status;
  thread_ = std::thread([this] {
    common::NameThisThread(absl::StrCat("worker-", id_));
    CapBlockCache();
    loop_.Run([this](int64_t now_ns, int events) { return AfterTurn(now_ns, events); });
  });
  return absl::OkStatus();
}

void Worker::Adopt(int fd, const ServedHandler* handler) {
  if (!loop_.Post([this, fd, handler] { waiting_.push_back({fd, handler}); })) close(fd);
}

void Worker::Drain(int64_t deadline_ns) {
  loop_.Post([this, deadline_ns] { BeginDrain(deadline_ns); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

int64_t Worker::AfterTurn(int64_t now_ns, int events) {
  now_ns_ = now_ns;
  // Established connections were served by the turn's events; then a few newcomers and
  // connections on probation, then those that yielded.
  FlushLateAnswers();
  ResumeMemoryPaused();
  AdoptWaiting();
  probation_.ServeSome();
  ServeReadyList();
  if (draining_) CloseConnectionsDone();
  ExpireTimers();
  FreeClosed();
  memory_release_.MaybeRelease(now_ns, events);
  UpdatePendingOutputMax();
  if (draining_ && connections_.empty() && closing_.empty()) loop_.Quit();
  return NextDeadlineNs();
}

// Adopts up to ProbationSet::kBatch handed-over connections (the rest wait for the next turns:
// a burst of new connections does not hold up the established ones).
void Worker::AdoptWaiting() {
  const size_t end = std::min(waiting_.size(), waiting_next_ + ProbationSet::kBatch);
  for (; waiting_next_ < end; ++waiting_next_) {
    const Handoff& h = waiting_[waiting_next_];
    auto owned = std::make_unique<Connection>(
        h.fd, next_connection_id.fetch_add(1, std::memory_order_relaxed),
        options_.max_frame_bytes, nullptr, static_cast<Connection::Owner*>(this));
    Connection* c = owned.get();
    connections_.emplace(c, std::move(owned));
    stats_.active_connections.Add(1);
    idle_timers_.Touch(&c->idle_timer, now_ns_);
    c->served = h.handler;
    c->blocking = h.handler->blocking;
    if (h.handler->tls != nullptr) {
      StartHandshake(c);  // the handler comes once the client is known
    } else {
      MakeHandler(c);
    }
    if (c->closed()) continue;
    UpdateInterest(c);  // arrived during shutdown: served if it asked, then closed (AfterTurn)
  }
  if (waiting_next_ == waiting_.size()) {
    waiting_.clear();
    waiting_next_ = 0;
  }
}

void Worker::OnConnectionEvents(Connection* c, uint32_t ready) {
  if (c->closed()) return;
  if (c->handshaking()) {
    ContinueHandshake(c);
    return;
  }
  if (ready & EPOLLOUT) {
    Flush(c);
    // A TLS read that had to write first (a key update's answer) waits for this event.
    if (!c->closed() && c->reading() && c->output.empty() && c->tls() != nullptr &&
        c->tls()->wants_write()) {
      ReadAndServe(c);
    }
  }
  if (c->closed()) return;
  if (ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    if (c->reading()) {
      ReadAndServe(c);
    } else if (ready & (EPOLLHUP | EPOLLERR)) {
      Close(c);  // not reading from it: an error or hang-up can only be seen this way
    }
  }
}

void Worker::ReadAndServe(Connection* c) {
  int64_t bytes = 0;
  switch (c->Read(read_buffer_.get(), kReadBufferBytes, &bytes)) {
    case Connection::ReadResult::kData:
      stats_.bytes_in.Add(bytes);
      idle_timers_.Touch(&c->idle_timer, now_ns_);
      if (c->unanswered_since_ns == 0) c->unanswered_since_ns = common::MonotonicNanos();
      Serve(c);
      if (!c->closed()) Flush(c);
      ListIfInputPending(c);
      return;
    case Connection::ReadResult::kNothing:
      if (c->tls() != nullptr) {
        // Part of a record may have come: OpenSSL holds it, unseen by the decoder, so the
        // frame timer and the budget must see it here.
        UpdateFrameTimer(c, /*frame_taken=*/false);
        Account(c);
        if (!c->closed() && c->tls()->wants_write()) UpdateInterest(c);  // for EPOLLOUT
      }
      return;
    case Connection::ReadResult::kEndOfStream:
      // The client has finished sending. Answer what it sent, then close (see Flush).
      c->set_state(ConnectionState::kPeerClosed);
      frame_timers_.Remove(&c->frame_timer);
      if (c->OwesNothing() && !c->on_ready_list) {
        Close(c);
      } else {
        UpdateInterest(c);
      }
      return;
    case Connection::ReadResult::kError:
      VLOG(1) << "read from " << PeerName(c->fd()) << ": " << std::strerror(errno);
      Close(c);
      return;
  }
}

// Answers the complete frames buffered, within the limits, and applies the policies to why
// it stopped.
void Worker::Serve(Connection* c) {
  ConnectionAnswers later(later_, c, now_ns_);
  const DispatchResult result =
      c->Serve({.max_frame_bytes = options_.max_frame_bytes,
                .max_pending_output_bytes = MaxPendingOutput(*c),
                .max_frames = options_.max_frames_per_batch,
                .max_inflight = static_cast<size_t>(options_.max_inflight_per_connection),
                .blocking = c->blocking},
               &later);
  if (result.frames > 0) {
    if (c->state() == ConnectionState::kProbation) {  // promoted to the main set
      probation_.poller().Remove(c->fd());
      c->registered = false;
      c->set_state(ConnectionState::kOpen);
      // On io_uring, from here on by completions (TLS stays on readiness: OpenSSL does the I/O).
      if (loop_.uring() != nullptr && c->tls() == nullptr) c->UseCompletions(loop_.uring());
    }
    stats_.frames_in.Add(result.frames);
    stats_.frames_out.Add(result.replies);
    stats_.handler_errors.Add(result.handler_errors);
    stats_.requests_overloaded.Add(result.overloaded);
    stats_.requests_later.Add(result.later);
  }
  c->replies_to_time += result.replies;
  ApplyStop(c, result);
  if (!c->closed()) UpdateFrameTimer(c, result.frames > 0);
}

void Worker::ApplyStop(Connection* c, const DispatchResult& result) {
  switch (result.stopped) {
    case StopReason::kNeedMoreBytes:
      break;
    case StopReason::kOutputFull:
    case StopReason::kInflightFull:
      // Backpressure: stop reading its requests until its replies drain or come back.
      if (c->state() == ConnectionState::kOpen) {
        c->set_state(ConnectionState::kPaused);
        stats_.reads_paused.Add(1);
      }
      break;
    case StopReason::kBatchLimit:
      stats_.fairness_yields.Add(1);
      if (!c->on_ready_list) {
        c->on_ready_list = true;
        ready_.push_back(c);
      }
      break;
    case StopReason::kCloseRequested:
      c->CloseWhenAnswered();
      break;
    case StopReason::kProtocolError:
      if (int suppressed; log_limiter_.Allow(now_ns_, &suppressed)) {
        LOG(WARNING) << "closing " << PeerName(c->fd()) << ": " << result.error.message()
                     << LogLimiter::Note(suppressed);
      }
      // A frame whose memory could not be had ends the stream the same way, counted apart.
      (absl::IsResourceExhausted(result.error) ? stats_.closed_no_memory
                                               : stats_.closed_protocol_error).Add(1);
      // The frames before the bad header were answered: their replies go out first, then the
      // connection closes (Flush closes it once nothing is owed; the rest of the input is not).
      c->CloseWhenAnswered();
      break;
  }
}

void Worker::Flush(Connection* c) {
  int64_t bytes = 0;
  if (!c->Flush(&bytes)) {
    VLOG(1) << "write to " << PeerName(c->fd()) << ": " << std::strerror(errno);
    Close(c);
    return;
  }
  if (bytes > 0) {
    stats_.bytes_out.Add(bytes);
    idle_timers_.Touch(&c->idle_timer, now_ns_);
  }
  // Latency: from the read that brought the oldest unanswered bytes to this write.
  if (c->replies_to_time > 0) {
    stats_.RecordLatency(now_ns_,
                          absl::Nanoseconds(common::MonotonicNanos() - c->unanswered_since_ns),
                          c->replies_to_time);
    c->replies_to_time = 0;
  }
  if (!c->on_ready_list && c->state() != ConnectionState::kPaused) {
    c->unanswered_since_ns = 0;  // nothing complete is left unanswered: the next read restarts it
  }
  if (c->output.empty()) {
    MaybeResume(c);
    if (c->state() == ConnectionState::kPeerClosed && c->OwesNothing() && !c->on_ready_list) {
      Close(c);
      return;
    }
  }
  UpdateInterest(c);
  if (!c->closed()) Account(c);
}

// Backpressure released: its output drained and it is below the in-flight bound.
void Worker::MaybeResume(Connection* c) {
  if (c->state() != ConnectionState::kPaused ||
      c->order.size() >= static_cast<size_t>(options_.max_inflight_per_connection)) {
    return;
  }
  c->set_state(ConnectionState::kOpen);
  if ((c->decoder.buffered_bytes() > 0 || c->input_pending()) &&
      !c->on_ready_list) {  // frames read before the pause
    c->on_ready_list = true;
    ready_.push_back(c);
  }
}

void Worker::UpdateInterest(Connection* c) {
  const uint32_t wanted = c->WantedEvents();
  if (c->uses_completions()) {  // EPOLLIN: a receive armed; EPOLLOUT: output to send
    c->SetReceiving(wanted & EPOLLIN);
    if ((wanted & EPOLLOUT) && !(c->registered_events & EPOLLOUT)) writers_.push_back(c);
    c->registered_events = wanted;
    return;
  }
  if (c->registered && c->registered_events == wanted) return;
  common::Poller& set =
      c->state() == ConnectionState::kProbation ? probation_.poller() : loop_.poller();
  if (absl::Status status = set.Set(c->fd(), wanted, c, c->registered); !status.ok()) {
    LOG(ERROR) << "closing " << PeerName(c->fd()) << ": " << status.message();
    Close(c);
    return;
  }
  c->registered = true;
  if ((wanted & EPOLLOUT) && !(c->registered_events & EPOLLOUT)) writers_.push_back(c);
  c->registered_events = wanted;
}

// Bytes OpenSSL read ahead, or completions that came while the connection was not read, get no
// event: the ready list brings the connection back.
void Worker::ListIfInputPending(Connection* c) {
  if (!c->closed() && c->reading() && c->input_pending() && !c->on_ready_list) {
    c->on_ready_list = true;
    ready_.push_back(c);
  }
}

void Worker::ServeReadyList() {
  std::vector<Connection*> ready;
  ready.swap(ready_);
  for (Connection* c : ready) {
    if (c->closed()) continue;
    c->on_ready_list = false;
    if (c->state() == ConnectionState::kPaused) continue;  // re-listed when it resumes
    if (c->reading() && c->input_pending()) {
      ReadAndServe(c);  // what OpenSSL read ahead first, then the frames
    } else {
      Serve(c);
      if (!c->closed()) Flush(c);
    }
  }
}

}  // namespace server
