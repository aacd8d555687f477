#include "server/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "server/connection_link.h"
#include "server/serial_calls.h"
#include "server/socket.h"

namespace server {
namespace {

// A frame missing at least this much is read into place (one copy saved); below it, reading
// into the shared buffer may bring the following frames in the same call.
constexpr size_t kReadInPlaceMinBytes = 64 << 10;
// An emptied output queue keeps at most this much allocated, so idle connections stay small.
constexpr size_t kKeepOutputCapacity = 16 << 10;
constexpr int kMaxSendParts = protocol::OutputQueue::kMaxWriteParts;

// Writes what the socket takes of `output`: one system call whatever the number of segments.
ssize_t SendPlain(int fd, const protocol::OutputQueue& output) {
  iovec iov[kMaxSendParts];
  const int count = output.PeekIovecs(iov, kMaxSendParts);
  if (count == 1) return send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
  msghdr message{};
  message.msg_iov = iov;
  message.msg_iovlen = count;
  return sendmsg(fd, &message, MSG_NOSIGNAL);
}

// The same through TLS: record by record, until the socket is full or the output is written.
ssize_t SendTls(tls::Stream& stream, const protocol::OutputQueue& output) {
  absl::string_view parts[kMaxSendParts];
  const int count = output.Peek(parts, kMaxSendParts);
  ssize_t total = 0;
  for (int i = 0; i < count; ++i) {
    for (size_t done = 0; done < parts[i].size();) {
      const ssize_t n = stream.WriteSome(parts[i].data() + done, parts[i].size() - done);
      if (n < 0) return total > 0 ? total : -1;  // errno says why
      done += n;
      total += n;
    }
  }
  return total;
}

}  // namespace

Connection::Connection(int fd, uint64_t id, uint32_t max_frame_bytes,
                       std::unique_ptr<handlers::Handler> handler, Owner* owner)
    : decoder({.max_frame_bytes = max_frame_bytes}),
      fd_(fd),
      id_(id),
      handler_(handler.get()),
      owned_handler_(std::move(handler)),
      owner_(owner) {}

SerialCalls& Connection::serial_calls(HandlerPool* pool) {
  if (serial_calls_ == nullptr) serial_calls_ = std::make_shared<SerialCalls>(pool);
  return *serial_calls_;
}

bool Connection::blocking_calls_pending() const {
  return serial_calls_ != nullptr && !serial_calls_->idle();
}

std::shared_ptr<handlers::Handler> Connection::shared_handler() {
  if (shared_handler_ == nullptr) shared_handler_ = std::move(owned_handler_);
  return shared_handler_;
}

Connection::~Connection() { Close(); }

Connection::ReadResult Connection::Read(char* scratch, size_t scratch_bytes, int64_t* bytes) {
  ssize_t n;
  size_t missing = 0;
  if (completions_ != nullptr) {
    n = completions_->Receive();  // the bytes are in the decoder already
  } else if (char* in_place = decoder.ReadSpace(&missing);
             in_place != nullptr && missing >= kReadInPlaceMinBytes) {
    // The rest of a large frame: straight into its place, not through the shared buffer.
    n = Receive(in_place, std::min(missing, scratch_bytes));
    if (n > 0) decoder.CommitRead(n);
  } else {
    n = Receive(scratch, scratch_bytes);
    if (n > 0) decoder.Feed(absl::string_view(scratch, n));
  }
  *bytes = std::max<ssize_t>(n, 0);
  if (n > 0) return ReadResult::kData;
  if (n == 0) return ReadResult::kEndOfStream;
  return WouldBlock(errno) ? ReadResult::kNothing : ReadResult::kError;
}

ssize_t Connection::Receive(char* data, size_t size) {
  // On TLS, what is left either stays in the socket, where the loop's next readiness event
  // finds it, or waits inside OpenSSL (input_pending()), where the worker looks for it (its
  // ready list).
  return tls_ == nullptr ? read(fd_, data, size) : tls_->ReadSome(data, size);
}

ssize_t Connection::Send() {
  return tls_ == nullptr ? SendPlain(fd_, output) : SendTls(*tls_, output);
}

bool Connection::Flush(int64_t* bytes) {
  *bytes = 0;
  if (completions_ != nullptr) {
    // The output is consumed as sends complete; this reports them and asks for the next.
    const ssize_t n = completions_->Send();
    if (n < 0 && !WouldBlock(errno)) return false;
    *bytes = std::max<ssize_t>(n, 0);
  } else if (!output.empty()) {
    const ssize_t n = Send();
    if (n < 0 && !WouldBlock(errno)) return false;
    if (n > 0) {
      output.Consume(n);
      *bytes = n;
    }
  }
  if (output.empty()) output.Clear(kKeepOutputCapacity);
  return true;
}

void Connection::FlushNow() {
  if (completions_ != nullptr && !completions_->sending()) {
    const ssize_t n = SendPlain(fd_, output);  // no send of the ring's is in flight to overtake
    if (n > 0) output.Consume(n);
    return;
  }
  int64_t bytes = 0;
  Flush(&bytes);
}

DispatchResult Connection::Serve(const DispatchLimits& limits, LaterAnswers* later) {
  DispatchResult result = DispatchFrames(decoder, *handler_, order, output, later, limits);
  decoder.Retain();  // the shared read buffer is about to serve another connection
  if (!decoder.status().ok() && result.stopped != StopReason::kProtocolError) {
    // Retain() could not have the memory for the frame that follows: the stream ends there.
    result.stopped = StopReason::kProtocolError;
    result.error = decoder.status();
  }
  return result;
}

void Connection::Close() {
  if (state_ == ConnectionState::kClosed) return;
  state_ = ConnectionState::kClosed;
  if (tls_ != nullptr) tls_->Shutdown();
  if (completions_ != nullptr) completions_->Close();  // before close(): cancels by the ring
  close(fd_);
  if (link_ != nullptr) link_->Cut();
}

uint32_t Connection::WantedEvents() const {
  uint32_t wanted = 0;
  if (reading() || handshaking()) wanted |= EPOLLIN;
  if (!output.empty() || (tls_ != nullptr && tls_->wants_write())) wanted |= EPOLLOUT;
  return wanted;
}

}  // namespace server
