#include "server/net/testing/scripted_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "protocol/frame.h"

namespace server {
namespace testing {

std::string Header(uint32_t length) {
  char bytes[protocol::kHeaderBytes];
  protocol::WriteBigEndian32(length, bytes);
  return std::string(bytes, sizeof(bytes));
}

Client::~Client() {
  if (fd_ >= 0) close(fd_);
}

void Client::Send(absl::string_view bytes) {
  unsent_.append(bytes.data(), bytes.size());
  given_.append(bytes.data(), bytes.size());
  Pump();
}

void Client::Pump() {
  while (!unsent_.empty()) {
    const ssize_t n = send(fd_, unsent_.data(), unsent_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n <= 0) break;
    unsent_.erase(0, n);
  }
  if (!reading_) return;
  char buffer[64 << 10];
  while (!eof_) {
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n > 0) {
      received_.append(buffer, n);
    } else if (n == 0 || errno != EAGAIN) {
      eof_ = true;  // the end, or a reset: nothing more will come either way
    } else {
      break;
    }
  }
}

void Client::ShutdownWrite() { ASSERT_EQ(shutdown(fd_, SHUT_WR), 0); }

void Client::Reset() {
  linger no_linger{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
  close(fd_);
  fd_ = -1;
}

absl::Status ScriptedHandler::Handle(absl::string_view request, handlers::Reply& reply) {
  if (absl::StrContains(request, "close")) reply.CloseAfterReply();
  if (absl::StartsWith(request, "defer")) {
    deferred_->requests.emplace_back(request);
    deferred_->completions.push_back(reply.Defer());
    return absl::OkStatus();
  }
  reply.Append(request);
  return absl::OkStatus();
}

ConnectionHarness::Options Scripted(Deferred* deferred, ConnectionHarness::Options options) {
  options.factory = [deferred](const handlers::HandlerContext&) {
    return std::make_unique<ScriptedHandler>(deferred);
  };
  return options;
}

bool RunWith(ConnectionHarness& h, Client& client, const std::function<bool()>& done,
             absl::Duration timeout) {
  return h.RunUntil(
      [&] {
        client.Pump();
        return done();
      },
      timeout);
}

bool HappensWithin(ConnectionHarness& h, Client& client, const std::function<bool()>& happened,
                   absl::Duration window) {
  return RunWith(h, client, happened, window);
}

}  // namespace testing
}  // namespace server
