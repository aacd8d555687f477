#include "server/upstream/backends.h"

#include <algorithm>

#include "glog/logging.h"

namespace server {
namespace upstream {
namespace {

// Another connection is opened once the least busy one has this many calls in flight.
constexpr size_t kOpenAnotherAt = 32;

}  // namespace

Backends::Backends(const UpstreamConfig* config, const UpstreamConnection::Env* env,
                   UpstreamConnection::Owner* owner, uint64_t seed)
    : config_(config), env_(env), owner_(owner) {
  const handlers::UpstreamOptions& o = config->options();
  const Ejection::Options eject{
      .failures_to_eject = o.failures_to_eject, .base = o.eject_base, .max = o.eject_max};
  for (size_t i = 0; i < config->backends().size(); ++i) backends_.emplace_back(eject, o, seed + i);
}

bool Backends::Usable(const Backend& b, const UpstreamConnection* c, int64_t now_ns,
                      bool probe) const {
  if (static_cast<int>(c->in_flight()) >= config_->options().max_pipelined) return false;
  // A connect a probe began during the reconnect delay is the probe's until it succeeds: calls
  // queued on it would only be retried elsewhere if it is refused again.
  return probe || c->connected() || now_ns >= b.next_connect_ns;
}

bool Backends::MayOpen(const Backend& b, int64_t now_ns, bool probe) const {
  return static_cast<int>(b.connections.size()) < config_->options().max_connections_per_backend &&
         (probe || now_ns >= b.next_connect_ns);
}

bool Backends::HasRoom(int backend, int64_t now_ns, bool probe) const {
  const Backend& b = backends_[backend];
  if (MayOpen(b, now_ns, probe)) return true;
  for (const UpstreamConnection* c : b.connections) {
    if (Usable(b, c, now_ns, probe)) return true;
  }
  return false;
}

Backends::Chosen Backends::ConnectionFor(int backend, int64_t now_ns, bool probe) {
  const handlers::UpstreamOptions& o = config_->options();
  Backend& b = backends_[backend];
  UpstreamConnection* best = nullptr;
  for (UpstreamConnection* c : b.connections) {
    if (Usable(b, c, now_ns, probe) && (best == nullptr || c->in_flight() < best->in_flight())) {
      best = c;
    }
  }
  // Another connection once the least busy one carries many calls (or is full).
  const size_t open_another_at = std::min<size_t>(kOpenAnotherAt, o.max_pipelined);
  if (best != nullptr && (best->in_flight() < open_another_at || !MayOpen(b, now_ns, probe))) {
    return {best};
  }
  if (!MayOpen(b, now_ns, probe)) return {};
  const UpstreamConfig::Backend& where = config_->backends()[backend];
  absl::StatusOr<std::unique_ptr<UpstreamConnection>> opened =
      UpstreamConnection::Connect(where.address(), config_->tls(), backend, env_, owner_);
  if (!opened.ok()) {
    LOG_EVERY_N(WARNING, 100) << "upstream " << o.name << ": " << where.name << ": "
                              << opened.status().message();
    ConnectFailed(backend, now_ns);
    return {.refused = true};
  }
  UpstreamConnection* c = opened->get();
  owned_.push_back(*std::move(opened));
  b.connections.push_back(c);
  b.connecting.emplace_back(c, now_ns + absl::ToInt64Nanoseconds(o.connect_timeout));
  where.counters->open_connections.fetch_add(1, std::memory_order_relaxed);
  return {c};
}

void Backends::StopTimingConnect(Backend& b, UpstreamConnection* c) {
  b.connecting.erase(std::remove_if(b.connecting.begin(), b.connecting.end(),
                                    [c](const auto& entry) { return entry.first == c; }),
                     b.connecting.end());
}

void Backends::OnConnected(UpstreamConnection* c) {
  Backend& b = backends_[c->backend()];
  b.reconnect.Reset();
  b.next_connect_ns = 0;  // a probe's connect may have ended the delay early
  StopTimingConnect(b, c);
}

void Backends::ConnectFailed(int backend, int64_t now_ns) {
  config_->backends()[backend].counters->errors_connect.fetch_add(1, std::memory_order_relaxed);
  Backend& b = backends_[backend];
  b.next_connect_ns = now_ns + absl::ToInt64Nanoseconds(b.reconnect.Next());
}

void Backends::Failed(int backend, UpstreamConnection::Failure failure, int64_t now_ns) {
  BackendCounters& counters = *config_->backends()[backend].counters;
  switch (failure) {
    case UpstreamConnection::Failure::kConnect:
      return ConnectFailed(backend, now_ns);
    case UpstreamConnection::Failure::kBadReply:
      counters.errors_bad_reply.fetch_add(1, std::memory_order_relaxed);
      return;
    case UpstreamConnection::Failure::kReset:
      counters.errors_reset.fetch_add(1, std::memory_order_relaxed);
      return;
  }
}

UpstreamConnection* Backends::BatchConnection(uint64_t batch, int64_t now_ns) const {
  UpstreamConnection* c = batch_.connection;
  if (batch == 0 || batch != batch_.id || c == nullptr) return nullptr;
  // Open (Forget() clears batch_), and usable when the batch's last call went on it this turn:
  // its room, its backend's reconnect delay or ejection may have changed since.
  const Backend& b = backends_[c->backend()];
  return Usable(b, c, now_ns, /*probe=*/false) && !b.health.ejected(now_ns) ? c : nullptr;
}

void Backends::Forget(UpstreamConnection* c) {
  if (batch_.connection == c) batch_ = {};
  Backend& b = backends_[c->backend()];
  b.connections.erase(std::remove(b.connections.begin(), b.connections.end(), c),
                      b.connections.end());
  StopTimingConnect(b, c);
  auto it = std::find_if(owned_.begin(), owned_.end(),
                         [c](const std::unique_ptr<UpstreamConnection>& o) { return o.get() == c; });
  if (it == owned_.end()) return;  // forgotten already
  config_->backends()[c->backend()].counters->open_connections.fetch_sub(
      1, std::memory_order_relaxed);
  closed_.push_back(std::move(*it));
  owned_.erase(it);
}

void Backends::TimeOutConnects(int64_t now_ns) {
  for (Backend& b : backends_) {
    for (size_t i = 0; i < b.connecting.size();) {
      if (b.connecting[i].second > now_ns) {
        ++i;
        continue;
      }
      // The owner's OnFailed() forgets it, erasing this entry.
      b.connecting[i].first->Fail(UpstreamConnection::Failure::kConnect,
                                  absl::UnavailableError("connect timed out"));
    }
  }
}

int64_t Backends::NextConnectDeadlineNs(int64_t next) const {
  for (const Backend& b : backends_) {
    for (const auto& entry : b.connecting) next = std::min(next, entry.second);
  }
  return next;
}

void Backends::FreeIdle() {
  closed_.erase(std::remove_if(closed_.begin(), closed_.end(),
                               [](const std::unique_ptr<UpstreamConnection>& c) {
                                 return c->io_idle();
                               }),
                closed_.end());
}

int64_t Backends::held_bytes() const {
  int64_t held = 0;
  for (const auto& c : owned_) held += c->held_bytes();
  for (const auto& c : closed_) held += c->held_bytes();
  return held;
}

void Backends::CloseAll() {
  for (auto& c : owned_) {
    c->Close();
    config_->backends()[c->backend()].counters->open_connections.fetch_sub(
        1, std::memory_order_relaxed);
    closed_.push_back(std::move(c));
  }
  owned_.clear();
  batch_ = {};
  for (Backend& b : backends_) {
    b.connections.clear();
    b.connecting.clear();
  }
}

}  // namespace upstream
}  // namespace server
