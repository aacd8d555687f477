#include "server/worker/connection_set.h"

#include <algorithm>
#include <utility>

namespace server {

Connection* ConnectionSet::Add(std::unique_ptr<Connection> c) {
  Connection* raw = c.get();
  open_.emplace(raw, std::move(c));
  return raw;
}

void ConnectionSet::Remove(Connection* c) {
  auto it = open_.find(c);
  if (it == open_.end()) return;
  closed_.push_back(std::move(it->second));
  open_.erase(it);
}

int ConnectionSet::FreeClosed() {
  if (!closing_.empty()) {
    auto idle = [](const std::unique_ptr<Connection>& c) { return c->io_idle(); };
    closing_.erase(std::remove_if(closing_.begin(), closing_.end(), idle), closing_.end());
  }
  const int found = static_cast<int>(closed_.size());
  for (std::unique_ptr<Connection>& c : closed_) {
    if (c->io_idle()) continue;
    c->ReleaseBuffers();
    closing_.push_back(std::move(c));
  }
  closed_.clear();  // drops each handler instance: its "connection closed" notice
  return found;
}

std::vector<Connection*> ConnectionSet::Snapshot() const {
  std::vector<Connection*> all;
  all.reserve(open_.size());
  for (const auto& entry : open_) all.push_back(entry.first);
  return all;
}

size_t ConnectionSet::LargestPendingOutput() const {
  size_t largest = 0;
  for (const auto& entry : open_) largest = std::max(largest, entry.first->pending_output());
  return largest;
}

}  // namespace server
