#include "server/net/testing/connection_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/time/clock.h"
#include "common/clock.h"
#include "glog/logging.h"
#include "handlers/echo/echo.h"
#include "protocol/frame.h"
#include "server/net/socket.h"

namespace server::testing {

std::pair<int, int> LoopbackPair() {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  CHECK_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), length), 0);
  CHECK_EQ(listen(listener, 1), 0);
  CHECK_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK_EQ(connect(client, reinterpret_cast<sockaddr*>(&address), length), 0);
  const int server = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  CHECK_GE(server, 0);
  close(listener);
  return {server, client};
}

namespace {

ConnectionHarness::Options WithEcho(ConnectionHarness::Options options) {
  if (!options.factory) {
    options.factory = [](const handlers::HandlerContext&) {
      return std::make_unique<handlers::EchoHandler>();
    };
  }
  return options;
}

}  // namespace

ConnectionHarness::ConnectionHarness() : ConnectionHarness(Options{}) {}

ConnectionHarness::ConnectionHarness(Options options)
    : options_(WithEcho(std::move(options))),
      max_pending_output_(options_.max_pending_output),
      budget_(options_.memory_limit),
      stats_(1, &budget_),
      pool_(2, 64),
      deadlines_(options_.handler_timeout),
      served_{options_.factory, options_.tls},
      services_{&loop_, &context_, &pool_, &deadlines_, &budget_, &stats_.worker(0),
                options_.max_frame_bytes, &log_} {
  const absl::Status loop = loop_.Init(options_.io);
  CHECK(loop.ok()) << loop;
  const absl::Status probation = probation_.Init();
  CHECK(probation.ok()) << probation;
  pool_.Start();
  transports_ = std::make_unique<Transports>(
      Transports::Env{&loop_, &probation_, &stats_.worker(0), &log_});
  env_ = {options_.max_frame_bytes, options_.max_frames_per_batch, options_.max_inflight,
          transports_.get(), &services_, &stats_.worker(0), &log_, this};
}

ConnectionHarness::~ConnectionHarness() {
  pool_.Stop();
  connections_.clear();
  closed_now_.clear();
  closing_.clear();
}

Connection* ConnectionHarness::Open(int* client_fd) {
  const auto [server_end, client_end] = LoopbackPair();
  SetNoDelay(server_end);  // as the acceptor does: a reply leaves at once, Nagle holds none
  *client_fd = client_end;
  static uint64_t next_id = 1;
  auto owned = std::make_unique<Connection>(server_end, next_id++, &served_, &env_);
  Connection* c = owned.get();
  connections_.emplace(c, std::move(owned));
  c->Start();
  return c;
}

void ConnectionHarness::OnFrameProgress(Connection* c, bool incomplete, bool) {
  incomplete_[c] = incomplete;
}

bool ConnectionHarness::incomplete_frame(Connection* c) const {
  auto it = incomplete_.find(c);
  return it != incomplete_.end() && it->second;
}

void ConnectionHarness::OnHeldBytesChanged(Connection* c) {
  const int64_t held = c->HeldBytes();
  budget_.Charge(held - c->hooks().charged);
  c->hooks().charged = held;
}

void ConnectionHarness::OnClosed(Connection* c) {
  ++closed_;
  budget_.Charge(-c->hooks().charged);
  c->hooks().charged = 0;
  c->hooks().ready.Unlink();
  incomplete_.erase(c);
  auto it = connections_.find(c);
  closed_now_.push_back(std::move(it->second));
  connections_.erase(it);
}

void ConnectionHarness::AfterTurn() {
  // Probation: this harness serves every event of the set at once.
  epoll_event events[64];
  for (int i = 0, n = probation_.Wait(events, 64, 0); i < n; ++i) {
    common::Poller::WatcherOf(events[i])->OnEvents(events[i].events);
  }
  common::IntrusiveList<Connection> ready;
  ready_.MoveAllTo(&ready);
  while (Connection* c = ready.PopFront()) c->Continue();
  for (size_t i = 0; i < closing_.size();) {
    if (closing_[i]->io_idle()) {
      ++freed_;
      closing_.erase(closing_.begin() + i);
    } else {
      ++i;
    }
  }
  for (std::unique_ptr<Connection>& c : closed_now_) {
    if (c->io_idle()) {
      ++freed_;
    } else {
      c->ReleaseBuffers();
      closing_.push_back(std::move(c));
    }
  }
  closed_now_.clear();
}

bool ConnectionHarness::RunUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    // The probation set is not in the loop's: looked at after every turn, at least every 5 ms.
    loop_.RunOnce(ready_.empty() ? 5 : 0);
    AfterTurn();
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
  }
}

std::string Frame(absl::string_view payload) {
  char header[protocol::kHeaderBytes];
  protocol::WriteBigEndian32(static_cast<uint32_t>(payload.size()), header);
  return std::string(header, sizeof(header)) + std::string(payload);
}

bool WriteAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(n);
  }
  return true;
}

std::string ReadAvailable(int fd) {
  std::string out;
  char buffer[64 << 10];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n <= 0) return out;
    out.append(buffer, n);
  }
}

}  // namespace server::testing
