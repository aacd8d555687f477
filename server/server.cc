#include "server/server.h"

#include <unistd.h>

#include "server/acceptor.h"
#include "server/clock.h"
#include "server/socket.h"
#include "server/worker.h"

namespace server {

Server::Server(const ServerOptions& options)
    : options_(options), stats_(std::make_unique<ServerStats>(options.workers)) {
  context_.stats = stats_.get();
}

Server::~Server() { Shutdown(); }

void Server::AddListener(ListenerSpec spec) { specs_.push_back(std::move(spec)); }

absl::Status Server::Start() {
  std::vector<Acceptor::Listener> listeners;
  auto close_all = [&listeners] {
    for (const Acceptor::Listener& l : listeners) close(l.fd);
  };
  for (const ListenerSpec& spec : specs_) {
    absl::StatusOr<int> fd = ListenTcp(spec.address, spec.port);
    if (!fd.ok()) {
      close_all();
      return fd.status();
    }
    listeners.push_back({*fd, &spec.factory});
    absl::StatusOr<int> port = LocalPort(*fd);
    if (!port.ok()) {
      close_all();
      return port.status();
    }
    ports_.push_back(*port);
  }
  std::vector<Worker*> workers;
  for (int i = 0; i < options_.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, options_, stats_.get(), &context_));
    if (absl::Status status = workers_.back()->Start(); !status.ok()) {
      close_all();
      return status;
    }
    workers.push_back(workers_.back().get());
  }
  acceptor_ = std::make_unique<Acceptor>(options_, std::move(workers), stats_.get());
  return acceptor_->Start(std::move(listeners));
}

void Server::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (acceptor_) acceptor_->Stop();  // no new connections from here on
  const int64_t deadline = MonotonicNanos() + absl::ToInt64Nanoseconds(options_.shutdown_grace);
  for (auto& worker : workers_) worker->Drain(deadline);
  for (auto& worker : workers_) worker->Join();
}

}  // namespace server
