#include "server/upstream/upstream_connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace server {
namespace upstream {

absl::StatusOr<std::unique_ptr<UpstreamConnection>> UpstreamConnection::Connect(
    const Address& address, const tls::Context* tls, int backend, const Env* env, Owner* owner) {
  const int fd = socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // pipelined calls leave at once
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0 &&
      errno != EINPROGRESS) {
    const int error = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(error)));
  }
  std::unique_ptr<UpstreamConnection> c(new UpstreamConnection(fd, tls, backend, env, owner));
  c->transport_ = env->transports->ForOutbound(c->binding(), tls);
  if (c->transport_ == nullptr) {  // the destructor closes the socket
    return absl::UnavailableError("TLS could not start (logged)");
  }
  c->UpdateInterest();  // writable once connected
  return c;
}

UpstreamConnection::UpstreamConnection(int fd, const tls::Context* tls, int backend,
                                       const Env* env, Owner* owner)
    : fd_(fd),
      tls_(tls),
      backend_(backend),
      env_(env),
      owner_(owner),
      decoder_({.max_frame_bytes = env->max_frame_bytes, .allow_error_frames = true}) {}

UpstreamConnection::~UpstreamConnection() { Close(); }

void UpstreamConnection::Send(uint64_t call, absl::string_view request) {
  protocol::AppendFrame(request, &output_.BufferForNextReply());
  in_flight_.push_back(call);
}

void UpstreamConnection::Flush() {
  if (state_ != State::kOpen || output_.empty()) return;
  const IoResult written = transport_->Write();
  if (written.kind == IoResult::kError) {
    return Fail(Failure::kReset,
                absl::UnavailableError(absl::StrCat("write: ", std::strerror(written.error))));
  }
  UpdateInterest();
}

void UpstreamConnection::OnTransportReady(bool readable, bool writable, bool failed) {
  if (closed()) return;
  if (state_ == State::kConnecting) {
    if (writable || failed) FinishConnect();
    return;
  }
  if (state_ == State::kHandshaking) return ContinueHandshake();
  if (writable) Flush();
  if (!closed() && (readable || failed)) ReadReplies();
}

void UpstreamConnection::FinishConnect() {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    return Fail(Failure::kConnect,
                absl::UnavailableError(absl::StrCat("connect: ", std::strerror(error))));
  }
  if (!transport_->handshake_done()) {
    state_ = State::kHandshaking;
    return ContinueHandshake();
  }
  Open();
}

void UpstreamConnection::ContinueHandshake() {
  switch (transport_->ContinueHandshake()) {
    case Transport::Handshake::kWaiting: return UpdateInterest();
    case Transport::Handshake::kFailed:  // logged by the transport
      return Fail(Failure::kConnect, absl::UnavailableError("the TLS handshake failed"));
    case Transport::Handshake::kDone: return Open();
  }
}

void UpstreamConnection::Open() {
  state_ = State::kOpen;
  // From here on it moves as an accepted connection does after its first frame.
  transport_ = env_->transports->ForEstablished(std::move(transport_), binding(), tls_);
  owner_->OnConnected(this);
  if (!closed()) Flush();
  if (!closed()) ReadReplies();  // TLS may hold a record read with the handshake's last
}

void UpstreamConnection::ReadReplies() {
  // Bounded: a backend that sends without end does not hold the loop.
  for (int reads = 0; reads < 16 && !closed(); ++reads) {
    const IoResult read = transport_->Read();
    if (read.kind == IoResult::kEnd) {
      return Fail(Failure::kReset, absl::UnavailableError("the backend closed the connection"));
    }
    if (read.kind == IoResult::kError) {
      return Fail(Failure::kReset,
                  absl::UnavailableError(absl::StrCat("read: ", std::strerror(read.error))));
    }
    while (!closed()) {
      absl::StatusOr<std::optional<protocol::Frame>> frame = decoder_.Next();
      if (!frame.ok()) {
        return Fail(Failure::kBadReply,
                    absl::UnavailableError(absl::StrCat("bad reply: ", frame.status().message())));
      }
      if (!frame->has_value()) break;
      if (in_flight_.empty()) {
        return Fail(Failure::kBadReply, absl::UnavailableError("a reply to no call"));
      }
      const uint64_t call = in_flight_.front();
      in_flight_.pop_front();
      owner_->OnReply(this, call, **frame);
    }
    if (closed()) return;
    decoder_.Retain();  // the transport's read buffer is shared
    if (read.bytes == 0 && !transport_->input_pending()) break;
  }
  if (!closed()) UpdateInterest();
}

void UpstreamConnection::UpdateInterest() {
  // While shaking hands the transport asks for what it needs; requests wait for it.
  const bool write = state_ == State::kConnecting || (state_ == State::kOpen && !output_.empty());
  const bool read = state_ == State::kOpen || state_ == State::kHandshaking;
  if (absl::Status status = transport_->Wait(read, write);
      !status.ok()) {
    Fail(Failure::kReset, absl::UnavailableError(status.message()));
  }
}

void UpstreamConnection::Fail(Failure failure, const absl::Status& why) {
  if (closed()) return;
  std::deque<uint64_t> calls = Close();
  owner_->OnFailed(this, failure, why, std::move(calls));
}

std::deque<uint64_t> UpstreamConnection::Close() {
  if (closed()) return {};
  state_ = State::kClosed;
  if (transport_ != nullptr) transport_->Close();  // before close(): cancels by the ring
  close(fd_);
  decoder_.Clear();
  if (transport_ == nullptr || transport_->output_released()) output_.Clear();
  return std::exchange(in_flight_, {});
}

int64_t UpstreamConnection::held_bytes() const {
  return static_cast<int64_t>(decoder_.resident_bound() + output_.resident_bound()) +
         (transport_ != nullptr ? transport_->held_bytes() : 0);
}

}  // namespace upstream
}  // namespace server
