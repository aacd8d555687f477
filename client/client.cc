#include "client/client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/host_port.h"
#include "protocol/buffer.h"

namespace client {
namespace {

constexpr size_t kReadChunk = 64 << 10;

// Connects one resolved address without blocking past `deadline_ns`. Returns the fd or -errno.
int ConnectOne(const addrinfo* ai, int64_t deadline_ns) {
  const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
    const int error = errno;
    close(fd);
    return -error;
  }
  pollfd p{fd, POLLOUT, 0};
  const int64_t wait_ms = std::max<int64_t>(0, (deadline_ns - common::MonotonicNanos()) / 1'000'000);
  if (poll(&p, 1, static_cast<int>(wait_ms)) != 1) {
    close(fd);
    return -ETIMEDOUT;
  }
  int error = 0;
  socklen_t length = sizeof(error);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    close(fd);
    return -error;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(absl::string_view host, int port,
                                                        absl::Duration timeout,
                                                        uint32_t max_frame_bytes, const tls::Context* tls, const tls::Stream::Session& resume) {
  const std::string address = common::HostPort(host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string host_string(host), port_string = std::to_string(port);
  if (const int rc = getaddrinfo(host_string.c_str(), port_string.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  const int64_t deadline_ns = common::MonotonicNanos() + absl::ToInt64Nanoseconds(timeout);
  int result = -ECONNREFUSED;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    result = ConnectOne(ai, deadline_ns);
    if (result >= 0) break;
  }
  freeaddrinfo(found);
  if (result < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", address, ": ", std::strerror(-result)));
  }
  std::unique_ptr<Client> client(new Client(result, address, timeout, max_frame_bytes));
  if (tls != nullptr) {
    if (absl::Status s = client->Handshake(*tls, resume, deadline_ns); !s.ok()) return s;
  }
  return client;
}

absl::Status Client::Handshake(const tls::Context& context, const tls::Stream::Session& resume,
                               int64_t deadline_ns) {
  tls_ = tls::Stream::Connect(context, fd_);
  if (tls_ == nullptr) return absl::InternalError("cannot start TLS: " + tls::TakeErrors());
  tls_->set_session(resume);
  while (true) {
    const tls::Progress progress = tls_->Handshake();
    if (progress == tls::Progress::kDone) return absl::OkStatus();
    if (progress != tls::Progress::kWantRead && progress != tls::Progress::kWantWrite) {
      return absl::UnavailableError(
          absl::StrCat("TLS handshake with ", address_, " failed: ", tls_->error()));
    }
    const short events = progress == tls::Progress::kWantRead ? POLLIN : POLLOUT;
    if (absl::Status s = WaitFor(events, deadline_ns, "in the TLS handshake with"); !s.ok()) {
      return s;
    }
  }
}

ssize_t Client::ReadSome(char* data, size_t size) {
  return tls_ == nullptr ? read(fd_, data, size) : tls_->ReadSome(data, size);
}

ssize_t Client::WriteSome(const char* data, size_t size) {
  return tls_ == nullptr ? send(fd_, data, size, MSG_NOSIGNAL) : tls_->WriteSome(data, size);
}

// A TLS server that refuses a client's certificate says why in an alert and closes; with TLS
// 1.3 the client learns it only after its handshake, often when its first send meets the
// reset. The alert was read into the socket before the reset: read it, to name the cause.
std::string Client::SendError() {
  const std::string system = IoError();
  if (tls_ == nullptr || (errno != ECONNRESET && errno != EPIPE)) return system;
  char scratch[tls::Stream::kMaxRecordBytes];
  if (ReadSome(scratch, sizeof(scratch)) < 0 && !tls_->error().empty()) return tls_->error();
  return system;
}

std::string Client::IoError() const {
  if (tls_ != nullptr && !tls_->error().empty()) return tls_->error();
  return std::strerror(errno);
}

Client::Client(int fd, std::string address, absl::Duration timeout, uint32_t max_frame_bytes)
    : fd_(fd),
      address_(std::move(address)),
      timeout_(timeout),
      decoder_({.max_frame_bytes = max_frame_bytes, .allow_error_frames = true}),
      read_buffer_(kReadChunk, '\0') {}

Client::~Client() {
  if (tls_ != nullptr) tls_->Shutdown();
  tls_.reset();
  close(fd_);
}

absl::Status Client::WaitFor(short events, int64_t deadline_ns, absl::string_view doing) {
  while (true) {
    pollfd p{fd_, events, 0};
    const int64_t wait_ms = (deadline_ns - common::MonotonicNanos()) / 1'000'000;
    if (wait_ms <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out after ", absl::FormatDuration(timeout_), " ", doing, " ",
                       address_));
    }
    const int rc = poll(&p, 1, static_cast<int>(wait_ms));
    if (rc > 0) return absl::OkStatus();
    if (rc < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("poll: ", std::strerror(errno)));
    }
  }
}

absl::Status Client::Send(absl::string_view payload) {
  protocol::Buffer frame;
  protocol::AppendFrame(payload, &frame);
  return SendRaw(frame.view());
}

absl::Status Client::SendRaw(absl::string_view bytes) {
  const int64_t deadline_ns = common::MonotonicNanos() + absl::ToInt64Nanoseconds(timeout_);
  while (!bytes.empty()) {
    const ssize_t n = WriteSome(bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(n);
    } else if (errno == EAGAIN || errno == EINTR) {
      if (absl::Status s = WaitFor(POLLOUT, deadline_ns, "sending to"); !s.ok()) return s;
    } else {
      return absl::UnavailableError(
          absl::StrCat("cannot send to ", address_, ": ", SendError()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Client::Reply> Client::Receive() {
  const int64_t deadline_ns = common::MonotonicNanos() + absl::ToInt64Nanoseconds(timeout_);
  while (true) {
    absl::StatusOr<std::optional<protocol::Frame>> frame = decoder_.Next();
    if (!frame.ok()) {
      return absl::DataLossError(
          absl::StrCat("bad reply from ", address_, ": ", frame.status().message()));
    }
    if (frame->has_value()) {
      Reply reply{std::string((*frame)->payload), (*frame)->kind == protocol::FrameKind::kError};
      return reply;
    }
    decoder_.Retain();  // read_buffer_ is reused below
    const ssize_t n = ReadSome(read_buffer_.data(), read_buffer_.size());
    if (n > 0) {
      decoder_.Feed(absl::string_view(read_buffer_.data(), n));
    } else if (n == 0) {
      return absl::UnavailableError(absl::StrCat(
          address_, " closed the connection",
          decoder_.buffered_bytes() > 0 ? " in the middle of a reply" : " before replying"));
    } else if (errno == EAGAIN || errno == EINTR) {
      if (absl::Status s = WaitFor(POLLIN, deadline_ns, "waiting for a reply from"); !s.ok()) {
        return s;
      }
    } else {
      return absl::UnavailableError(
          absl::StrCat("cannot read from ", address_, ": ", IoError()));
    }
  }
}

absl::StatusOr<Client::Reply> Client::Call(absl::string_view payload) {
  if (absl::Status s = Send(payload); !s.ok()) return s;
  return Receive();
}

void Client::ShutdownWrite() { shutdown(fd_, SHUT_WR); }

}  // namespace client
