#include "server/net/tls_transport.h"

#include <sys/epoll.h>

#include "glog/logging.h"
#include "server/net/socket.h"

namespace server {

std::unique_ptr<TlsTransport> TlsTransport::Accept(const Binding& binding, common::Poller* set,
                                                   char* scratch, size_t scratch_bytes,
                                                   const tls::Context& context,
                                                   const Report& report) {
  std::unique_ptr<tls::Stream> stream = tls::Stream::Accept(context, binding.fd);
  if (stream == nullptr) {
    LOG(ERROR) << "cannot start TLS for " << PeerName(binding.fd) << ": " << tls::TakeErrors();
    return nullptr;
  }
  return std::unique_ptr<TlsTransport>(
      new TlsTransport(binding, set, scratch, scratch_bytes, std::move(stream), report));
}

std::unique_ptr<TlsTransport> TlsTransport::Connect(const Binding& binding, common::Poller* set,
                                                    char* scratch, size_t scratch_bytes,
                                                    const tls::Context& context,
                                                    const Report& report) {
  std::unique_ptr<tls::Stream> stream = tls::Stream::Connect(context, binding.fd);
  if (stream == nullptr) {
    LOG(ERROR) << "cannot start TLS to " << PeerName(binding.fd) << ": " << tls::TakeErrors();
    return nullptr;
  }
  return std::unique_ptr<TlsTransport>(
      new TlsTransport(binding, set, scratch, scratch_bytes, std::move(stream), report));
}

Transport::Handshake TlsTransport::ContinueHandshake() {
  switch (stream_->Handshake()) {
    case tls::Progress::kDone:
      if (report_.stats != nullptr) report_.stats->tls_handshakes.Add(1);
      return Handshake::kDone;
    case tls::Progress::kWantRead:
    case tls::Progress::kWantWrite:
      return Handshake::kWaiting;
    case tls::Progress::kEnd:
    case tls::Progress::kFailed:
      break;
  }
  const tls::Failure failure = stream_->failure();
  if (WorkerStats* stats = report_.stats; stats != nullptr) {
    switch (failure) {
      case tls::Failure::kNoCertificate: stats->tls_failed_no_certificate.Add(1); break;
      case tls::Failure::kBadCertificate: stats->tls_failed_bad_certificate.Add(1); break;
      case tls::Failure::kAborted: stats->tls_failed_aborted.Add(1); break;
      default: stats->tls_failed_protocol.Add(1); break;
    }
  }
  if (int suppressed;
      failure != tls::Failure::kAborted && report_.log->Allow(report_.loop->now_ns(), &suppressed)) {
    LOG(WARNING) << "TLS handshake with " << PeerName(binding_.fd) << " failed ("
                 << tls::FailureName(failure) << "): " << stream_->error()
                 << common::LogLimiter::Note(suppressed);
  }
  return Handshake::kFailed;
}

void TlsTransport::Describe(handlers::ConnectionInfo* info) const {
  info->tls = true;
  info->peer_certificate_subject = stream_->peer_subject();
}

void TlsTransport::Close() {
  stream_->Shutdown();
  RawTransport::Close();
}

// Record by record, until the socket is full or the output is written.
ssize_t TlsTransport::Send() {
  constexpr int kMaxParts = protocol::OutputQueue::kMaxWriteParts;
  absl::string_view parts[kMaxParts];
  const int count = binding_.output->Peek(parts, kMaxParts);
  ssize_t total = 0;
  for (int i = 0; i < count; ++i) {
    for (size_t done = 0; done < parts[i].size();) {
      const ssize_t n = stream_->WriteSome(parts[i].data() + done, parts[i].size() - done);
      if (n < 0) return total > 0 ? total : -1;  // errno says why
      done += n;
      total += n;
    }
  }
  return total;
}

// A read that had to write first (a key update's answer) waits for the socket to be writable:
// then it is a read that may make progress.
void TlsTransport::OnReady(uint32_t events) {
  if ((events & EPOLLOUT) && stream_->wants_write()) events |= EPOLLIN;
  RawTransport::OnReady(events);
}

}  // namespace server
