#include "server/worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "common/clock.h"
#include "common/thread_name.h"

namespace server {
namespace {

// The pending-output gauge is refreshed at most this often (it looks at every connection).
constexpr int64_t kGaugesEveryNs = 100'000'000;

std::atomic<uint64_t> next_connection_id{1};

const upstream::Upstreams& NoUpstreams() {
  static const upstream::Upstreams* const none = new upstream::Upstreams();
  return *none;
}

handlers::HandlerContext WithTurnEnd(handlers::HandlerContext context,
                                     handlers::TurnEnd* turn_end) {
  context.turn_end = turn_end;
  return context;
}

}  // namespace

Worker::Worker(int id, const ServerOptions& options, ServerStats* stats, MemoryBudget* budget,
               const handlers::HandlerContext* context, HandlerPool* pool,
               const upstream::Upstreams* upstreams, std::function<void(int)> evict_elsewhere)
    : id_(id),
      options_(options),
      server_stats_(stats),
      stats_(stats->worker(id)),
      transports_({&loop_, &probation_.poller(), &stats_, &log_limiter_}),
      context_(WithTurnEnd(*context, &turn_end_)),
      late_(options, &loop_, &context_, pool, budget, &stats_, &log_limiter_),
      env_{options.max_frame_bytes,
           options.max_frames_per_batch,
           static_cast<size_t>(options.max_inflight_per_connection),
           &transports_,
           late_.services(),
           &stats_,
           &log_limiter_,
           this},
      timeouts_(options.idle_timeout, options.frame_timeout, &stats_, &log_limiter_),
      governor_(budget, options, &connections_, &stats_, &log_limiter_,
                [this, evict = std::move(evict_elsewhere)] {
                  if (evict) evict(id_);
                },
                common::MonotonicNanos()),
      drainer_(id, &connections_),
      upstream_env_{&transports_, options.max_frame_bytes, budget},
      upstreams_(upstreams != nullptr ? upstreams : &NoUpstreams(), upstream_env_, &loop_, id) {}

Worker::~Worker() {
  Join();
  for (size_t i = waiting_next_; i < waiting_.size(); ++i) close(waiting_[i].fd);
}

absl::Status Worker::Start() {
  if (absl::Status status = loop_.Init(options_.io); !status.ok()) return status;
  if (absl::Status status = probation_.Init(&loop_.poller()); !status.ok()) return status;
  thread_ = std::thread([this] {
    common::NameThisThread(absl::StrCat("worker-", id_));
    governor_.CapBlockCache();
    upstreams_.Enter();
    loop_.Run([this](int64_t now_ns, int events) { return AfterTurn(now_ns, events); });
    upstreams_.Shutdown();  // calls still waiting get UNAVAILABLE, on this thread
  });
  return absl::OkStatus();
}

void Worker::Adopt(int fd, const ServedHandler* handler) {
  if (!loop_.Post([this, fd, handler] { waiting_.push_back({fd, handler}); })) close(fd);
}

void Worker::Drain(int64_t deadline_ns) {
  loop_.Post([this, deadline_ns] {
    AdoptWaiting(waiting_.size());  // no newcomer is left out
    drainer_.Begin(deadline_ns);
  });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::PostEviction() {
  if (eviction_posted_.exchange(true)) return;  // one is queued already
  loop_.Post([this] {
    eviction_posted_ = false;
    governor_.EvictLargest(loop_.now_ns());
  });
}

bool Worker::PostReport(size_t limit,
                        std::function<void(std::vector<ConnectionReport>)> done) {
  return loop_.Post([this, limit, done = std::move(done)] {
    std::vector<ConnectionReport> reports;
    const int64_t now_ns = common::MonotonicNanos();
    for (const Connection* c : connections_.Snapshot()) {
      if (reports.size() >= limit) break;
      reports.push_back(c->Report(now_ns));
      reports.back().worker = id_;
    }
    done(std::move(reports));
  });
}

// The turn's events served the established connections. Then, in this order: answers past
// their deadline, connections paused for memory that may read again, a few newcomers and
// connections on probation, the connections with work left, the upstream calls they made, the
// drain, the timers, the freeing of what closed during the turn, and last the handlers' turn-end
// hooks (handlers/turn_end.h), once every request of the turn has been handled.
int64_t Worker::AfterTurn(int64_t now_ns, int events) {
  turn_ns_.store(now_ns, std::memory_order_relaxed);
  late_.ExpireDue(now_ns);
  governor_.ResumePaused();
  AdoptWaiting(ProbationSet::kBatch);
  probation_.ServeSome();
  ServeReadyList();
  upstreams_.OnTurnEnd(now_ns);  // the turn's calls leave; replies past their deadline fail
  drainer_.OnTurnEnd(now_ns);
  timeouts_.Expire(now_ns);
  governor_.OnTurnEnd(now_ns, events, connections_.FreeClosed());
  PublishGauges(now_ns);
  turn_end_.Run();
  if (drainer_.draining() && connections_.empty()) loop_.Quit();
  return NextDeadlineNs(now_ns);
}

// Adopts up to `most` handed-over connections (the rest wait for the next turns: a burst of
// new connections does not hold up the established ones).
void Worker::AdoptWaiting(size_t most) {
  const size_t end = std::min(waiting_.size(), waiting_next_ + most);
  for (; waiting_next_ < end; ++waiting_next_) {
    const Handoff& h = waiting_[waiting_next_];
    Connection* c = connections_.Add(std::make_unique<Connection>(
        h.fd, next_connection_id.fetch_add(1, std::memory_order_relaxed), h.handler, &env_));
    stats_.active_connections.Add(1);
    timeouts_.Touch(c, loop_.now_ns());
    c->Start();  // arrived during shutdown: served if it asked, then closed (the drainer)
  }
  if (waiting_next_ == waiting_.size()) {
    waiting_.clear();
    waiting_next_ = 0;
  }
}

// Each connection listed before this call gets one Continue(); those that list themselves
// again wait for the next turn (fairness).
void Worker::ServeReadyList() {
  common::IntrusiveList<Connection> ready;
  ready_.MoveAllTo(&ready);
  while (Connection* c = ready.PopFront()) c->Continue();
}

void Worker::OnClosed(Connection* c) {
  Timeouts::Forget(c);
  governor_.Forget(c);
  c->hooks().ready.Unlink();
  stats_.active_connections.Add(-1);
  server_stats_->open_connections.fetch_sub(1, std::memory_order_relaxed);
  connections_.Remove(c);  // freed at the end of the turn: later events may still name it
}

void Worker::PublishGauges(int64_t now_ns) {
  if (now_ns < next_gauges_ns_) {
    gauges_stale_ = true;
    return;
  }
  next_gauges_ns_ = now_ns + kGaugesEveryNs;
  gauges_stale_ = false;
  const int64_t largest = static_cast<int64_t>(connections_.LargestPendingOutput());
  if (stats_.pending_output_max.value() != largest) stats_.pending_output_max.Set(largest);
}

int64_t Worker::NextDeadlineNs(int64_t now_ns) const {
  if (!ready_.empty() || waiting_next_ < waiting_.size() || turn_end_.pending()) return 0;
  int64_t next = std::min({governor_.NextDeadlineNs(now_ns), late_.NextDeadlineNs(),
                           timeouts_.NextDeadlineNs(), drainer_.NextDeadlineNs(),
                           upstreams_.NextDeadlineNs()});
  if (gauges_stale_) next = std::min(next, next_gauges_ns_);
  return next;
}

}  // namespace server
