// Worker: a connection's handler, and the TLS handshake that comes before it on a TLS
// listener. See worker.h and docs/tls.md.
#include "glog/logging.h"
#include "server/socket.h"
#include "server/worker.h"

namespace server {

void Worker::MakeHandler(Connection* c) {
  handlers::HandlerContext context = *context_;
  context.connection = {c->id(), PeerName(c->fd()), LocalName(c->fd())};
  if (const tls::Stream* stream = c->tls()) {
    context.connection.tls = true;
    context.connection.peer_certificate_subject = stream->peer_subject();
  }
  c->set_handler(c->served->factory(context));
}

// The handshake is bound by the frame timeout: a client that opens a connection and never
// finishes its handshake is treated like one that never finishes its first frame.
void Worker::StartHandshake(Connection* c) {
  std::unique_ptr<tls::Stream> stream = tls::Stream::Accept(*c->served->tls, c->fd());
  if (stream == nullptr) {
    LOG(ERROR) << "cannot start TLS for " << PeerName(c->fd()) << ": " << tls::TakeErrors();
    Close(c);
    return;
  }
  c->set_tls(std::move(stream));
  frame_timers_.Touch(&c->frame_timer, now_ns_);
}

void Worker::ContinueHandshake(Connection* c) {
  switch (c->Handshake()) {
    case tls::Progress::kDone:
      stats_.tls_handshakes.Add(1);
      frame_timers_.Remove(&c->frame_timer);
      idle_timers_.Touch(&c->idle_timer, now_ns_);
      MakeHandler(c);
      UpdateInterest(c);
      ReadAndServe(c);  // a client may send its first frame with its last handshake message
      return;
    case tls::Progress::kWantRead:
    case tls::Progress::kWantWrite:
      UpdateInterest(c);
      return;
    case tls::Progress::kEnd:
    case tls::Progress::kFailed:
      break;
  }
  const tls::Failure failure = c->tls()->failure();
  switch (failure) {
    case tls::Failure::kNoCertificate: stats_.tls_failed_no_certificate.Add(1); break;
    case tls::Failure::kBadCertificate: stats_.tls_failed_bad_certificate.Add(1); break;
    case tls::Failure::kAborted: stats_.tls_failed_aborted.Add(1); break;
    default: stats_.tls_failed_protocol.Add(1); break;
  }
  if (int suppressed; failure != tls::Failure::kAborted && log_limiter_.Allow(now_ns_, &suppressed)) {
    LOG(WARNING) << "TLS handshake with " << PeerName(c->fd()) << " failed ("
                 << tls::FailureName(failure) << "): " << c->tls()->error()
                 << LogLimiter::Note(suppressed);
  }
  Close(c);
}

}  // namespace server
