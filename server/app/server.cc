#include "server/app/server.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "common/clock.h"
#include "glog/logging.h"
#include "server/accept/acceptor.h"
#include "server/dispatch/handler_pool.h"
#include "server/net/socket.h"
#include "server/worker/worker.h"

namespace server {

Server::Server(const ServerOptions& options)
    : options_(options),
      budget_(options.max_buffer_memory),
      stats_(std::make_unique<ServerStats>(WorkerCount(options), &budget_)) {
  context_.stats = stats_.get();
}

Server::~Server() { Shutdown(); }

void Server::AddListener(ListenerSpec spec) { specs_.push_back(std::move(spec)); }

void Server::AddDrainHook(std::function<void()> hook) { drain_hooks_.push_back(std::move(hook)); }

void Server::AddStopHook(std::function<void()> hook) { stop_hooks_.push_back(std::move(hook)); }

common::IoBackend Server::io_backend() const { return workers_.front()->io_backend(); }

absl::Status Server::Start() {
  std::vector<Acceptor::Listener> listeners;
  auto fail = [&listeners](absl::Status status) {
    for (const Acceptor::Listener& l : listeners) close(l.fd);
    return status;
  };
  for (const ListenerSpec& spec : specs_) {
    inherited_listeners_ |= spec.fd >= 0;
    absl::StatusOr<int> fd =
        spec.fd >= 0 ? spec.fd : ListenTcp(spec.address, spec.port, options_.reuse_port);
    if (!fd.ok()) return fail(fd.status());
    listeners.push_back({*fd, &spec.handler});
    absl::StatusOr<int> port = LocalPort(*fd);
    if (!port.ok()) return fail(port.status());
    ports_.push_back(*port);
  }
  pool_ = std::make_unique<HandlerPool>(options_.handler_threads, options_.max_queued_requests);
  pool_->Start();
  for (int i = 0; i < WorkerCount(options_); ++i) {
    workers_.push_back(std::make_unique<Worker>(
        i, options_, stats_.get(), &budget_, &context_, pool_.get(), &upstreams_, [this](int from) {
          for (auto& worker : workers_) {
            if (worker.get() != workers_[from].get()) worker->PostEviction();
          }
        }));
    if (absl::Status status = workers_.back()->Start(); !status.ok()) return fail(status);
  }
  upstreams_.StartResolving();
  acceptor_ = std::make_unique<Acceptor>(
      options_, stats_.get(), [this](int fd, const ServedHandler* handler) {
        workers_[next_worker_]->Adopt(fd, handler);  // in turn
        next_worker_ = (next_worker_ + 1) % workers_.size();
      });
  return acceptor_->Start(std::move(listeners));
}

void Server::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // The listener goes last: while the workers drain, a connection that still arrives is
  // accepted and closed with a FIN once it owes nothing (a worker that has finished closes it
  // at once), rather than reset by the kernel in a closed listener's queue.
  const int64_t deadline =
      common::MonotonicNanos() + absl::ToInt64Nanoseconds(options_.shutdown_grace);
  if (acceptor_ && inherited_listeners_) {
    acceptor_->Stop();  // the queue is shared with the next process: leave it the waiting ones
    LOG(INFO) << "stopped accepting: connections waiting in the activated sockets are left to "
                 "the next process";
  } else if (acceptor_) {
    acceptor_->AcceptWaiting();  // handed over before the workers drain
  }
  for (auto& worker : workers_) worker->Drain(deadline);
  for (auto& worker : workers_) worker->Join();
  if (acceptor_) acceptor_->Stop();
  upstreams_.StopResolving();
  for (auto& hook : drain_hooks_) hook();
  if (pool_) pool_->Stop();
  for (auto& hook : stop_hooks_) hook();
}

int64_t Server::OldestTurnNs() const {
  int64_t oldest = INT64_MAX;
  for (const auto& worker : workers_) oldest = std::min(oldest, worker->last_turn_ns());
  return oldest;
}

void Server::WakeWorkers() {
  for (const auto& worker : workers_) worker->Wake();
}

namespace {

// What tasks posted to the workers hand back, and how many have: outlives a wait that gave up.
struct Gathering {
  std::mutex mu;
  std::condition_variable cv;
  size_t answered = 0;
  std::vector<ConnectionReport> reports;
};

bool WaitForAnswers(Gathering& g, size_t expected, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(g.mu);
  return g.cv.wait_for(lock, std::chrono::nanoseconds(absl::ToInt64Nanoseconds(timeout)),
                       [&] { return g.answered >= expected; });
}

void Answer(Gathering& g, std::vector<ConnectionReport> reports) {
  std::lock_guard<std::mutex> lock(g.mu);
  for (ConnectionReport& r : reports) g.reports.push_back(std::move(r));
  ++g.answered;
  g.cv.notify_all();
}

}  // namespace

std::vector<ConnectionReport> Server::Connections(size_t limit, absl::Duration timeout,
                                                  bool* complete) {
  auto g = std::make_shared<Gathering>();
  for (const auto& worker : workers_) {
    const bool posted = worker->PostReport(
        limit, [g](std::vector<ConnectionReport> reports) { Answer(*g, std::move(reports)); });
    if (!posted) Answer(*g, {});
  }
  *complete = WaitForAnswers(*g, workers_.size(), timeout);
  std::lock_guard<std::mutex> lock(g->mu);
  std::vector<ConnectionReport> all = std::move(g->reports);
  std::sort(all.begin(), all.end(),
            [](const ConnectionReport& a, const ConnectionReport& b) { return a.id < b.id; });
  if (all.size() > limit) all.resize(limit);
  return all;
}

bool Server::RunOnEveryWorker(const std::function<void()>& task, absl::Duration timeout) {
  auto g = std::make_shared<Gathering>();
  for (const auto& worker : workers_) {
    if (!worker->Post([g, task] {
          task();
          Answer(*g, {});
        })) {
      Answer(*g, {});
    }
  }
  return WaitForAnswers(*g, workers_.size(), timeout);
}

}  // namespace server
