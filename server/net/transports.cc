#include "server/net/transports.h"

#include "server/net/raw_transport.h"
#include "server/net/uring_transport.h"

namespace server {

Transports::Transports(const Env& env) : env_(env), read_buffer_(new char[kReadBufferBytes]) {}

std::unique_ptr<Transport> Transports::ForAccepted(const Transport::Binding& binding,
                                                   const tls::Context* tls) {
  if (tls != nullptr) {
    return TlsTransport::Accept(binding, env_.probation, read_buffer_.get(), kReadBufferBytes,
                                *tls, {env_.stats, env_.log, env_.loop});
  }
  return std::make_unique<RawTransport>(binding, env_.probation, read_buffer_.get(),
                                        kReadBufferBytes);
}

std::unique_ptr<Transport> Transports::ForOutbound(const Transport::Binding& binding,
                                                   const tls::Context* tls) {
  if (tls != nullptr) {
    // Its handshake outcomes are the upstream's to count (a failure is a connect error).
    return TlsTransport::Connect(binding, &env_.loop->poller(), read_buffer_.get(),
                                 kReadBufferBytes, *tls, {nullptr, env_.log, env_.loop});
  }
  return std::make_unique<RawTransport>(binding, &env_.loop->poller(), read_buffer_.get(),
                                        kReadBufferBytes);
}

std::unique_ptr<Transport> Transports::ForEstablished(std::unique_ptr<Transport> current,
                                                      const Transport::Binding& binding,
                                                      const tls::Context* tls) {
  if (tls == nullptr && env_.loop->uring() != nullptr) {
    current.reset();  // leaves the probation set
    return std::make_unique<UringTransport>(binding, env_.loop->uring());
  }
  current->WaitIn(&env_.loop->poller());
  return current;
}

}  // namespace server
