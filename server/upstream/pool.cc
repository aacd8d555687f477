#include "server/upstream/pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace server {
namespace upstream {

Pool::Pool(const UpstreamConfig* config, const UpstreamConnection::Env& env,
           common::EventLoop* loop, uint64_t seed)
    : config_(config),
      options_(config->options()),
      env_(env),
      loop_(loop),
      budget_({.ratio = options_.retry_ratio, .min_retries = options_.retry_floor}),
      backends_(config, &env_, this, seed) {
  std::vector<std::string> names;
  for (const UpstreamConfig::Backend& b : config->backends()) names.push_back(b.name);
  balancer_ = MakeBalancer(config->balance(), names, seed);
}

Pool::~Pool() {
  Shutdown();
  if (env_.budget != nullptr) env_.budget->Charge(-charged_);
}

void Pool::Call(absl::string_view request, const handlers::CallOptions& options,
                handlers::UpstreamCallback&& done) {
  config_->counters().calls.fetch_add(1, std::memory_order_relaxed);
  // No turn ends after a shutdown: answered here.
  if (shut_down_) return done(absl::UnavailableError("the server is stopping"));
  const int64_t now = loop_->now_ns();
  PendingCall& call = calls_.New(std::move(done), options.timeout, now);
  call.key = options.hash_key;
  call.retryable = options.retryable;
  budget_.OnCall(now);
  // The rest of a batch follows its previous call (docs/upstreams.md): one pick per batch.
  if (UpstreamConnection* c = backends_.BatchConnection(options.batch, now)) {
    return Send(call, c, c->backend(), request, now);
  }
  Place(call, request, now);
  if (config_->balance() != Balance::kHash) backends_.SetBatch(options.batch, call.connection);
}

void Pool::Place(PendingCall& call, absl::string_view request, int64_t now_ns) {
  const uint64_t id = call.id();
  UpstreamConnection* c = nullptr;
  int backend = -1;
  while (c == nullptr) {
    backend = balancer_->Pick(
        call.key,
        [&](int i) {
          return ((call.tried >> i) & 1) == 0 && !backends_[i].health.ejected(now_ns) &&
                 backends_.HasRoom(i, now_ns);
        },
        [&](int i) { return backends_[i].in_flight; });
    if (backend < 0) {
      return Unplaced(id, absl::UnavailableError(absl::StrCat(
                              "upstream ", options_.name,
                              ": no backend can take the call (ejected, full, or tried)")));
    }
    const Backends::Chosen chosen = backends_.ConnectionFor(backend, now_ns);
    c = chosen.connection;
    if (c == nullptr) {  // it had room: a connect refused at once
      if (chosen.refused) ChargeFailure(backend, now_ns);  // may eject it
      call.tried |= uint64_t{1} << backend;  // the next backend, as if this one had been tried
    }
  }
  Send(call, c, backend, request, now_ns);
}

void Pool::Send(PendingCall& call, UpstreamConnection* c, int backend, absl::string_view request,
                int64_t now_ns) {
  if (!c->has_unsent()) unsent_.push_back(c);
  c->Send(call.id(), request);
  // Kept only where it may be sent again: a retryable call, or one whose connection has not
  // connected yet (a request never sent may go elsewhere).
  if (!call.health_check && (call.retryable || !c->connected())) calls_.Keep(call, request);
  call.connection = c;
  call.tried |= uint64_t{1} << backend;
  call.sent_ns = now_ns;
  ++call.attempts;
  ++backends_[backend].in_flight;
  BackendCounters& counters = *config_->backends()[backend].counters;
  if (!call.health_check) counters.calls.fetch_add(1, std::memory_order_relaxed);
  counters.in_flight.fetch_add(1, std::memory_order_relaxed);
}

void Pool::OnReply(UpstreamConnection* c, uint64_t id, const protocol::Frame& reply) {
  BackendCounters& counters = *config_->backends()[c->backend()].counters;
  PendingCall* call = calls_.Find(id);
  if (call == nullptr || call->connection != c) {
    counters.late_replies.fetch_add(1, std::memory_order_relaxed);  // its deadline passed
    return;
  }
  NotInFlight(*call);
  const int64_t now = loop_->now_ns();
  if (call->health_check) {
    if (backends_[c->backend()].health.Reinstate(now)) {
      LOG(INFO) << "upstream " << options_.name << ": " << config_->backends()[c->backend()].name
                << " answered a health check: taken back";
    }
    return Answer(id, std::string());
  }
  counters.replies.fetch_add(1, std::memory_order_relaxed);
  counters.latency.Record(absl::Nanoseconds(now - call->sent_ns), 1);
  backends_[c->backend()].health.OnSuccess(now);
  if (reply.kind == protocol::FrameKind::kError) {
    // The backend's own answer, passed on as it is: not a failure of the backend.
    Answer(id, protocol::StatusFromErrorPayload(reply.payload));
  } else {  // answered to a client as it is, most often: framed in place, not copied again
    Answer(id, protocol::PayloadWithHeaderRoom(reply.payload));
  }
}

void Pool::OnFailed(UpstreamConnection* c, UpstreamConnection::Failure failure,
                    const absl::Status& why, std::deque<uint64_t> in_flight) {
  const int64_t now = loop_->now_ns();
  const int backend = c->backend();
  const bool never_connected = failure == UpstreamConnection::Failure::kConnect;
  backends_.Failed(backend, failure, now);
  VLOG(1) << "upstream " << options_.name << ": " << config_->backends()[backend].name << ": "
          << why.message() << " (" << in_flight.size() << " calls in flight)";
  Forget(c);
  Reroute(std::move(in_flight),
          absl::UnavailableError(absl::StrCat("upstream ", options_.name, ": ",
                                              config_->backends()[backend].name, ": ",
                                              why.message())),
          never_connected, now);
  ChargeFailure(backend, now);
}

void Pool::Reroute(std::deque<uint64_t> calls, const absl::Status& why, bool never_sent,
                   int64_t now_ns) {
  for (uint64_t id : calls) {
    PendingCall* found = calls_.Find(id);
    if (found == nullptr) continue;  // answered already (its deadline)
    PendingCall& call = *found;
    if (call.connection != nullptr) NotInFlight(call);
    const bool may_retry = (call.retryable || never_sent) && call.kept && !call.health_check &&
                           call.attempts < options_.max_attempts &&
                           now_ns < call.deadline_ns() && !shut_down_;
    if (may_retry && budget_.TryRetry(now_ns)) {
      config_->counters().retries.fetch_add(1, std::memory_order_relaxed);
      Place(call, call.request, now_ns);
      continue;
    }
    if (may_retry) config_->counters().retries_refused.fetch_add(1, std::memory_order_relaxed);
    Unplaced(id, why);
  }
}

void Pool::NotInFlight(PendingCall& call) {
  const int backend = call.connection->backend();
  --backends_[backend].in_flight;
  config_->backends()[backend].counters->in_flight.fetch_sub(1, std::memory_order_relaxed);
  call.connection = nullptr;
}

void Pool::Forget(UpstreamConnection* c) {
  unsent_.erase(std::remove(unsent_.begin(), unsent_.end(), c), unsent_.end());
  backends_.Forget(c);
}

void Pool::ChargeFailure(int backend, int64_t now_ns) {
  Backends::Backend& b = backends_[backend];
  if (!b.health.OnFailure(now_ns)) return;
  const UpstreamConfig::Backend& where = config_->backends()[backend];
  where.counters->ejections.fetch_add(1, std::memory_order_relaxed);
  LOG(WARNING) << "upstream " << options_.name << ": ejected " << where.name << " for "
               << absl::FormatDuration(absl::Nanoseconds(b.health.ejected_until_ns() - now_ns))
               << " after " << options_.failures_to_eject << " failures in a row";
  // Its connections go too: a backend that stopped answering holds their calls otherwise.
  const std::vector<UpstreamConnection*> connections = b.connections;
  for (UpstreamConnection* c : connections) {
    std::deque<uint64_t> calls = c->Close();
    Forget(c);
    Reroute(std::move(calls),
            absl::UnavailableError(absl::StrCat("upstream ", options_.name, ": ", where.name,
                                                " ejected")),
            /*never_sent=*/false, now_ns);
  }
}

void Pool::Answer(uint64_t id, absl::StatusOr<std::string> reply) {
  PendingCall* call = calls_.Find(id);
  if (call == nullptr) return;
  // Released first: the callback may call again, reusing the slot.
  calls_.Release(*call)(std::move(reply));
}

void Pool::ExpireDue(int64_t now_ns) {
  while (PendingCall* call = calls_.OldestDue(now_ns)) {
    if (!call->health_check) config_->counters().timeouts.fetch_add(1, std::memory_order_relaxed);
    if (call->connection == nullptr) {
      Answer(call->id(), absl::DeadlineExceededError(absl::StrCat(
                             "upstream ", options_.name, ": no backend took the call in time")));
      continue;
    }
    const int backend = call->connection->backend();
    NotInFlight(*call);  // its reply, if it comes, is late
    config_->backends()[backend].counters->errors_timeout.fetch_add(1, std::memory_order_relaxed);
    Answer(call->id(), absl::DeadlineExceededError(
                           absl::StrCat("upstream ", options_.name, ": no reply from ",
                                        config_->backends()[backend].name, " in time")));
    ChargeFailure(backend, now_ns);
  }
}

void Pool::OnTurnEnd(int64_t now_ns) {
  backends_.EndBatch();
  ExpireDue(now_ns);  // first: a call past its deadline is not sent now
  backends_.TimeOutConnects(now_ns);
  CheckHealth(now_ns);
  // What the callbacks run here send or fail waits for the next turn (NextDeadlineNs() is 0
  // then): a callback that calls again on every failure cannot hold the loop.
  flushing_.swap(unsent_);  // each keeps its capacity: no allocation per turn
  for (UpstreamConnection* c : flushing_) c->Flush();  // may fail: OnFailed forgets it
  flushing_.clear();
  std::vector<std::pair<uint64_t, absl::Status>> unplaced = std::exchange(unplaced_, {});
  for (auto& [id, why] : unplaced) {
    const PendingCall* call = calls_.Find(id);
    if (absl::IsUnavailable(why) && call != nullptr && !call->health_check) {
      config_->counters().unavailable.fetch_add(1, std::memory_order_relaxed);
    }
    Answer(id, std::move(why));
  }
  backends_.FreeIdle();
  ChargeHeld();
}

void Pool::ChargeHeld() {
  if (env_.budget == nullptr) return;
  const int64_t held = calls_.kept_bytes() + backends_.held_bytes();
  env_.budget->Charge(held - charged_);
  charged_ = held;
}

int64_t Pool::NextDeadlineNs() const {
  if (!unplaced_.empty() || !unsent_.empty()) return 0;
  int64_t next = backends_.NextConnectDeadlineNs(calls_.NextDeadlineNs());
  if (options_.health_check_every > absl::ZeroDuration() && !shut_down_) {
    for (int i = 0; i < backends_.size(); ++i) {
      if (!backends_[i].checking) next = std::min(next, backends_[i].next_check_ns);
    }
  }
  // A connection that is gone waits for its I/O to end: poll io_idle().
  if (backends_.waiting_to_free()) next = std::min(next, loop_->now_ns() + 1'000'000);
  return next;
}

void Pool::Shutdown() {
  shut_down_ = true;
  backends_.CloseAll();
  unsent_.clear();
  // By id, not over the slots: a callback's new call is answered at once (shut_down_).
  for (uint64_t id : calls_.Waiting()) {
    PendingCall* call = calls_.Find(id);
    if (call == nullptr) continue;
    if (call->connection != nullptr) NotInFlight(*call);
    Answer(id, absl::UnavailableError(absl::StrCat("upstream ", options_.name, ": shutting down")));
  }
  unplaced_.clear();
}

}  // namespace upstream
}  // namespace server
