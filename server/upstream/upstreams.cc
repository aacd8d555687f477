#include "server/upstream/upstreams.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace server {
namespace upstream {
namespace {

thread_local WorkerUpstreams* current = nullptr;

}  // namespace

// What a service holds: Call() goes to the calling worker's pool of this upstream.
class Upstreams::Declared : public handlers::Upstream {
 public:
  Declared(std::unique_ptr<UpstreamConfig> config, size_t index)
      : config(std::move(config)), index_(index) {}

  void Call(absl::string_view request, const handlers::CallOptions& options,
            handlers::UpstreamCallback done) override {
    WorkerUpstreams* pools = WorkerUpstreams::Current();
    if (pools == nullptr) {
      return done(absl::FailedPreconditionError(absl::StrCat(
          "upstream ", this->config->options().name,
          ": Call() from a thread that is no worker's loop (an offloaded call?)")));
    }
    pools->pool(index_).Call(request, options, std::move(done));
  }

  const std::unique_ptr<UpstreamConfig> config;

 private:
  const size_t index_;
};

Upstreams::Upstreams() = default;

Upstreams::~Upstreams() { StopResolving(); }

void Upstreams::StartResolving() {
  bool any = false;
  for (const auto& d : declared_) {
    const UpstreamConfig& c = *d->config;
    if (c.options().resolve_every <= absl::ZeroDuration()) continue;
    for (const UpstreamConfig::Backend& b : c.backends()) any = any || b.by_name;
  }
  if (!any || resolver_.joinable()) return;
  resolver_ = std::thread([this] { ResolveLoop(); });
}

void Upstreams::StopResolving() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (resolver_.joinable()) resolver_.join();
}

// Each upstream on its own period; the thread sleeps until the earliest is due.
void Upstreams::ResolveLoop() {
  std::vector<absl::Time> due(declared_.size());
  for (size_t i = 0; i < declared_.size(); ++i) {
    due[i] = absl::Now() + declared_[i]->config->options().resolve_every;
  }
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    absl::Time next = absl::InfiniteFuture();
    for (size_t i = 0; i < declared_.size(); ++i) {
      if (declared_[i]->config->options().resolve_every > absl::ZeroDuration()) {
        next = std::min(next, due[i]);
      }
    }
    if (next == absl::InfiniteFuture()) return;
    wake_.wait_for(lock, absl::ToChronoNanoseconds(std::max(next - absl::Now(), absl::ZeroDuration())),
                   [this] { return stop_; });
    if (stop_) return;
    lock.unlock();  // getaddrinfo may take seconds: Stop must not wait on the lock meanwhile
    for (size_t i = 0; i < declared_.size(); ++i) {
      const UpstreamConfig& config = *declared_[i]->config;
      if (config.options().resolve_every <= absl::ZeroDuration() || absl::Now() < due[i]) continue;
      config.ResolveAgain();
      due[i] = absl::Now() + config.options().resolve_every;
    }
    lock.lock();
  }
}

const UpstreamConfig& Upstreams::config(size_t i) const { return *declared_[i]->config; }

absl::StatusOr<handlers::Upstream*> Upstreams::Add(const handlers::UpstreamOptions& options,
                                                   UpstreamConfig::Resolver resolve) {
  for (const auto& d : declared_) {
    if (d->config->options().name == options.name) {
      return absl::InvalidArgumentError(
          absl::StrCat("upstream '", options.name, "' is declared twice"));
    }
  }
  absl::StatusOr<std::unique_ptr<UpstreamConfig>> config =
      UpstreamConfig::Make(options, std::move(resolve));
  if (!config.ok()) return config.status();
  declared_.push_back(std::make_unique<Declared>(*std::move(config), declared_.size()));
  return declared_.back().get();
}

WorkerUpstreams::WorkerUpstreams(const Upstreams* upstreams, const UpstreamConnection::Env& env,
                                 common::EventLoop* loop, int worker) {
  for (size_t i = 0; i < upstreams->size(); ++i) {
    // Seeded per worker: the workers' random choices (least request) are not in step.
    pools_.push_back(std::make_unique<Pool>(&upstreams->config(i), env, loop,
                                            0x9e3779b97f4a7c15ull * (worker + 1) + i));
  }
}

WorkerUpstreams::~WorkerUpstreams() {
  if (current == this) current = nullptr;
}

void WorkerUpstreams::Enter() { current = this; }

WorkerUpstreams* WorkerUpstreams::Current() { return current; }

void WorkerUpstreams::OnTurnEnd(int64_t now_ns) {
  for (auto& pool : pools_) pool->OnTurnEnd(now_ns);
}

int64_t WorkerUpstreams::NextDeadlineNs() const {
  int64_t next = common::EventLoop::kNoDeadline;
  for (const auto& pool : pools_) next = std::min(next, pool->NextDeadlineNs());
  return next;
}

void WorkerUpstreams::Shutdown() {
  for (auto& pool : pools_) pool->Shutdown();
}

}  // namespace upstream
}  // namespace server
