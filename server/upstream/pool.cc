#include "server/upstream/pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace server {
namespace upstream {
namespace {

// Another connection is opened once the least busy one has this many calls in flight: a few
// connections carry many clients' calls, yet one slow reply does not hold up everything.
constexpr size_t kOpenAnotherAt = 32;

bool Tried(uint64_t tried, int backend) { return (tried >> backend) & 1; }

}  // namespace

Pool::Pool(const UpstreamConfig* config, const UpstreamConnection::Env& env,
           common::EventLoop* loop, uint64_t seed)
    : config_(config),
      options_(config->options()),
      env_(env),
      loop_(loop),
      budget_({.ratio = options_.retry_ratio, .min_retries = options_.retry_floor}) {
  std::vector<std::string> names;
  const Ejection::Options eject{.failures_to_eject = options_.failures_to_eject,
                                .base = options_.eject_base,
                                .max = options_.eject_max};
  for (const UpstreamConfig::Backend& b : config->backends()) {
    names.push_back(b.name);
    backends_.emplace_back(eject, options_, seed + backends_.size());
  }
  balancer_ = MakeBalancer(config->balance(), names, seed);
}

Pool::~Pool() {
  Shutdown();
  if (env_.budget != nullptr) env_.budget->Charge(-charged_);
}

void Pool::Call(absl::string_view request, const handlers::CallOptions& options,
                handlers::UpstreamCallback done) {
  config_->counters().calls.fetch_add(1, std::memory_order_relaxed);
  if (shut_down_) {  // no turn ends after this: answered here
    return done(absl::UnavailableError("the server is stopping"));
  }
  const int64_t now = loop_->now_ns();
  PendingCall& call =
      calls_.New(std::move(done), absl::ToInt64Nanoseconds(options.timeout), now);
  call.key = options.hash_key;
  call.retryable = options.retryable;
  budget_.OnCall(now);
  Place(call, request, now);
}

void Pool::Place(PendingCall& call, absl::string_view request, int64_t now_ns) {
  const uint64_t id = call.id();
  UpstreamConnection* c = nullptr;
  int backend = -1;
  while (c == nullptr) {
    backend = balancer_->Pick(
        call.key,
        [&](int i) {
          return !Tried(call.tried, i) && !backends_[i].health.ejected(now_ns) &&
                 HasRoom(i, now_ns);
        },
        [&](int i) { return backends_[i].in_flight; });
    if (backend < 0) {
      return Unplaced(id, absl::UnavailableError(absl::StrCat(
                              "upstream ", options_.name,
                              ": no backend can take the call (ejected, full, or tried)")));
    }
    c = ConnectionFor(backend, now_ns);
    // A connect refused at once: the next backend, as if this one had been tried.
    if (c == nullptr) call.tried |= uint64_t{1} << backend;
  }
  if (!c->has_unsent()) unsent_.push_back(c);
  c->Send(id, request);
  // Kept only where it may be sent again: a retryable call, or one whose connection has not
  // connected yet (a request never sent may go elsewhere).
  if (call.retryable || !c->connected()) calls_.Keep(call, request);
  call.connection = c;
  call.tried |= uint64_t{1} << backend;
  call.sent_ns = now_ns;
  ++call.attempts;
  ++backends_[backend].in_flight;
  BackendCounters& counters = *config_->backends()[backend].counters;
  counters.calls.fetch_add(1, std::memory_order_relaxed);
  counters.in_flight.fetch_add(1, std::memory_order_relaxed);
}

bool Pool::HasRoom(int backend, int64_t now_ns) const {
  const Backend& b = backends_[backend];
  if (static_cast<int>(b.connections.size()) < options_.max_connections_per_backend &&
      now_ns >= b.next_connect_ns) {
    return true;
  }
  for (const UpstreamConnection* c : b.connections) {
    if (static_cast<int>(c->in_flight()) < options_.max_pipelined) return true;
  }
  return false;
}

UpstreamConnection* Pool::ConnectionFor(int backend, int64_t now_ns) {
  Backend& b = backends_[backend];
  UpstreamConnection* best = nullptr;
  for (UpstreamConnection* c : b.connections) {
    if (best == nullptr || c->in_flight() < best->in_flight()) best = c;
  }
  const bool may_open = static_cast<int>(b.connections.size()) <
                            options_.max_connections_per_backend &&
                        now_ns >= b.next_connect_ns;
  if (best != nullptr && (best->in_flight() < kOpenAnotherAt || !may_open)) {
    return static_cast<int>(best->in_flight()) < options_.max_pipelined ? best : nullptr;
  }
  if (!may_open) return nullptr;
  const UpstreamConfig::Backend& where = config_->backends()[backend];
  absl::StatusOr<std::unique_ptr<UpstreamConnection>> opened =
      UpstreamConnection::Connect(where.address(), config_->tls(), backend, &env_, this);
  if (!opened.ok()) {
    LOG_EVERY_N(WARNING, 100) << "upstream " << options_.name << ": " << where.name << ": "
                              << opened.status().message();
    ConnectFailed(backend, now_ns);
    ChargeFailure(backend, now_ns);  // may eject it, closing `best`: the call goes elsewhere
    return nullptr;
  }
  UpstreamConnection* c = opened->get();
  owned_.push_back(*std::move(opened));
  b.connections.push_back(c);
  b.connecting.emplace_back(c, now_ns + absl::ToInt64Nanoseconds(options_.connect_timeout));
  where.counters->open_connections.fetch_add(1, std::memory_order_relaxed);
  return c;
}

void Pool::StopTimingConnect(Backend& b, UpstreamConnection* c) {
  b.connecting.erase(std::remove_if(b.connecting.begin(), b.connecting.end(),
                                    [c](const auto& entry) { return entry.first == c; }),
                     b.connecting.end());
}

void Pool::ConnectFailed(int backend, int64_t now_ns) {
  config_->backends()[backend].counters->errors_connect.fetch_add(1, std::memory_order_relaxed);
  Backend& b = backends_[backend];
  b.next_connect_ns = now_ns + absl::ToInt64Nanoseconds(b.reconnect.Next());
}

void Pool::OnConnected(UpstreamConnection* c) {
  Backend& b = backends_[c->backend()];
  b.reconnect.Reset();
  StopTimingConnect(b, c);
}

void Pool::OnReply(UpstreamConnection* c, uint64_t id, const protocol::Frame& reply) {
  Backend& b = backends_[c->backend()];
  BackendCounters& counters = *config_->backends()[c->backend()].counters;
  PendingCall* call = calls_.Find(id);
  if (call == nullptr || call->connection != c) {
    counters.late_replies.fetch_add(1, std::memory_order_relaxed);  // its deadline passed
    return;
  }
  NotInFlight(*call);
  counters.replies.fetch_add(1, std::memory_order_relaxed);
  const int64_t now = loop_->now_ns();
  counters.latency.Record(absl::Nanoseconds(now - call->sent_ns), 1);
  b.health.OnSuccess(now);
  if (reply.kind == protocol::FrameKind::kError) {
    // The backend's own answer, passed on as it is: not a failure of the backend.
    Answer(id, protocol::StatusFromErrorPayload(reply.payload));
  } else {
    Answer(id, std::string(reply.payload));
  }
}

void Pool::OnFailed(UpstreamConnection* c, UpstreamConnection::Failure failure,
                    const absl::Status& why, std::deque<uint64_t> in_flight) {
  const int64_t now = loop_->now_ns();
  const int backend = c->backend();
  const bool never_connected = failure == UpstreamConnection::Failure::kConnect;
  BackendCounters& counters = *config_->backends()[backend].counters;
  if (never_connected) {
    ConnectFailed(backend, now);
  } else if (failure == UpstreamConnection::Failure::kBadReply) {
    counters.errors_bad_reply.fetch_add(1, std::memory_order_relaxed);
  } else {
    counters.errors_reset.fetch_add(1, std::memory_order_relaxed);
  }
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
    const bool may_retry = (call.retryable || never_sent) && call.kept &&
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
  Backend& b = backends_[c->backend()];
  b.connections.erase(std::remove(b.connections.begin(), b.connections.end(), c),
                      b.connections.end());
  StopTimingConnect(b, c);
  unsent_.erase(std::remove(unsent_.begin(), unsent_.end(), c), unsent_.end());
  config_->backends()[c->backend()].counters->open_connections.fetch_sub(
      1, std::memory_order_relaxed);
  auto it = std::find_if(owned_.begin(), owned_.end(),
                         [c](const std::unique_ptr<UpstreamConnection>& o) { return o.get() == c; });
  if (it != owned_.end()) {
    closed_.push_back(std::move(*it));  // freed at the end of the turn, once idle
    owned_.erase(it);
  }
}

void Pool::ChargeFailure(int backend, int64_t now_ns) {
  Backend& b = backends_[backend];
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

void Pool::Unplaced(uint64_t id, absl::Status why) { unplaced_.emplace_back(id, std::move(why)); }

void Pool::ExpireDue(int64_t now_ns) {
  while (PendingCall* call = calls_.OldestDue(now_ns)) {
    config_->counters().timeouts.fetch_add(1, std::memory_order_relaxed);
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
  ExpireDue(now_ns);  // first: a call past its deadline is not sent now
  for (Backend& b : backends_) {
    for (size_t i = 0; i < b.connecting.size();) {
      if (b.connecting[i].second > now_ns) {
        ++i;
        continue;
      }
      b.connecting[i].first->Fail(UpstreamConnection::Failure::kConnect,
                                  absl::UnavailableError("connect timed out"));  // erases it
    }
  }
  // What the callbacks run here send or fail waits for the next turn (NextDeadlineNs() is 0
  // then): a callback that calls again on every failure cannot hold the loop.
  std::vector<UpstreamConnection*> unsent = std::exchange(unsent_, {});
  for (UpstreamConnection* c : unsent) c->Flush();  // may fail: OnFailed forgets it
  std::vector<std::pair<uint64_t, absl::Status>> unplaced = std::exchange(unplaced_, {});
  for (auto& [id, why] : unplaced) {
    if (absl::IsUnavailable(why)) {
      config_->counters().unavailable.fetch_add(1, std::memory_order_relaxed);
    }
    Answer(id, std::move(why));
  }
  closed_.erase(std::remove_if(closed_.begin(), closed_.end(),
                               [](const std::unique_ptr<UpstreamConnection>& c) {
                                 return c->io_idle();
                               }),
                closed_.end());
  ChargeHeld();
}

void Pool::ChargeHeld() {
  if (env_.budget == nullptr) return;
  int64_t held = calls_.kept_bytes();
  for (const auto& c : owned_) held += c->held_bytes();
  for (const auto& c : closed_) held += c->held_bytes();
  env_.budget->Charge(held - charged_);
  charged_ = held;
}

int64_t Pool::NextDeadlineNs() const {
  if (!unplaced_.empty() || !unsent_.empty()) return 0;
  int64_t next = calls_.NextDeadlineNs();
  for (const Backend& b : backends_) {
    for (const auto& entry : b.connecting) next = std::min(next, entry.second);
  }
  if (!closed_.empty()) next = std::min(next, loop_->now_ns() + 1'000'000);  // poll io_idle()
  return next;
}

void Pool::Shutdown() {
  shut_down_ = true;
  std::vector<std::unique_ptr<UpstreamConnection>> owned = std::move(owned_);
  for (auto& c : owned) c->Close();
  for (Backend& b : backends_) {
    b.connections.clear();
    b.connecting.clear();
  }
  unsent_.clear();
  for (auto& c : owned) closed_.push_back(std::move(c));
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
