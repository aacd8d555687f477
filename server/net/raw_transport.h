// RawTransport: plain text on readiness (epoll). Reads into the connection's decoder, large
// frames straight into place and the rest through a read buffer its worker shares among its
// connections; writes the output queue with one sendmsg whatever the number of segments.
// TlsTransport builds on it, replacing only how bytes are received and sent.
//
//   RawTransport transport({fd, &events, &decoder, &output}, &loop.poller(), scratch, size);
//   transport.Wait(/*read=*/true, /*write=*/false);   // events.OnTransportReady() follows
//
// Thread rule: the loop thread.
#ifndef SERVER_NET_RAW_TRANSPORT_H_
#define SERVER_NET_RAW_TRANSPORT_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "common/poller.h"
#include "server/net/transport.h"

namespace server {

class RawTransport : public Transport, private common::Watcher {
 public:
  // `set` is the epoll set to wait in; `scratch` is a read buffer of `scratch_bytes`, shared.
  RawTransport(const Binding& binding, common::Poller* set, char* scratch, size_t scratch_bytes);
  ~RawTransport() override;  // leaves its epoll set, unless the descriptor is closed

  absl::Status Wait(bool read, bool write) override;
  IoResult Read() override;
  IoResult Write() override;
  void WaitIn(common::Poller* set) override;
  void Close() override { closed_ = true; }  // closing the descriptor leaves the epoll set

 protected:
  // read(2) and send(2)'s results and errno.
  virtual ssize_t Receive(char* data, size_t size);
  virtual ssize_t Send();
  // The epoll events, as the connection is to see them.
  virtual void OnReady(uint32_t events);

  const Binding binding_;

 private:
  void OnEvents(uint32_t events) final { OnReady(events); }

  common::Poller* set_;
  char* const scratch_;
  const size_t scratch_bytes_;
  bool registered_ = false;       // in set_
  uint32_t registered_events_ = 0;
  bool closed_ = false;
};

}  // namespace server

#endif  // SERVER_NET_RAW_TRANSPORT_H_
