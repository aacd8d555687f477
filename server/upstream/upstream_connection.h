// UpstreamConnection: one connection this server opened to a backend, on a worker's loop.
//
// It moves its bytes through the same transports as an accepted connection (transport.h:
// plain text or TLS on readiness while it connects and shakes hands, then, for plain text on
// the io_uring backend, completions),
// into the same decoder and output queue. What differs is what the frames mean: requests go
// out in the order they were sent, and each reply that comes back belongs to the oldest call
// still in flight (pipelining). Anything that breaks that order (a reset, an end of stream, a
// bad header, a connect that fails or takes too long) fails the connection, and the calls in
// flight on it go back to their owner, which retries or fails them.
//
//   auto c = UpstreamConnection::Connect(address, backend_index, &env, &owner);
//   c->Send(call_id, request);   // queued; written by Flush() at the end of the turn
//   c->Flush();
//   // owner.OnReply(c, call_id, reply) for each reply, in order; owner.OnFailed(...) once.
//
// Thread rule: the owning worker's loop thread only.
#ifndef SERVER_UPSTREAM_UPSTREAM_CONNECTION_H_
#define SERVER_UPSTREAM_UPSTREAM_CONNECTION_H_

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"
#include "server/net/transport.h"
#include "server/memory/memory_budget.h"
#include "server/net/transports.h"
#include "tls/context.h"

namespace server {
namespace upstream {

// A backend's address, resolved.
struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

class UpstreamConnection : private TransportEvents {
 public:
  // Why a connection failed.
  enum class Failure {
    kConnect,   // refused, unreachable, or too slow to connect
    kReset,     // reset, or closed by the backend, or a write failed
    kBadReply,  // a bad header, or a reply to no call
  };

  class Owner {
   public:
    virtual ~Owner() = default;
    // The connect completed: `c` writes what was sent to it meanwhile.
    virtual void OnConnected(UpstreamConnection* c) = 0;
    // The reply to `call`, the oldest call in flight on `c` (a view, valid during the call).
    virtual void OnReply(UpstreamConnection* c, uint64_t call, const protocol::Frame& reply) = 0;
    // `c` has failed and closed (`why` says how); `in_flight` are its calls that got no reply,
    // oldest first. Called once; the owner frees `c` once io_idle().
    virtual void OnFailed(UpstreamConnection* c, Failure failure, const absl::Status& why,
                          std::deque<uint64_t> in_flight) = 0;
  };

  struct Env {
    Transports* transports;
    uint32_t max_frame_bytes;  // a longer reply is a bad header
    MemoryBudget* budget;      // --max_buffer_memory: what the pools hold is charged (may be null)
  };

  // Starts a non-blocking connect to `address`, then TLS's handshake with `tls` (a client
  // context; null for plain text). An error if no socket could be made, TLS could not start,
  // or the connect failed at once (the owner is not told then).
  static absl::StatusOr<std::unique_ptr<UpstreamConnection>> Connect(const Address& address,
                                                                     const tls::Context* tls,
                                                                     int backend, const Env* env,
                                                                     Owner* owner);
  ~UpstreamConnection() override;
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  // Queues `request` as the frame of `call`, whose reply comes after those of the calls sent
  // before. Written by the next Flush().
  void Send(uint64_t call, absl::string_view request);
  // Writes what the socket takes of what was sent (nothing while connecting).
  void Flush();
  // Closes without telling the owner (it already knows: shutdown, or it gave up on the
  // connection); returns the calls in flight.
  std::deque<uint64_t> Close();
  // Fails the connection as if the backend had (a connect that took too long).
  void Fail(Failure failure, const absl::Status& why);

  int backend() const { return backend_; }
  bool connected() const { return state_ == State::kOpen; }
  bool closed() const { return state_ == State::kClosed; }
  size_t in_flight() const { return in_flight_.size(); }
  bool has_unsent() const { return !output_.empty(); }
  // Memory it holds: requests not yet written, replies not yet complete.
  int64_t held_bytes() const;
  // Closed, and the kernel holds no operation of its transport: it may be freed.
  bool io_idle() const { return transport_ == nullptr || transport_->idle(); }

 private:
  enum class State { kConnecting, kHandshaking, kOpen, kClosed };

  UpstreamConnection(int fd, const tls::Context* tls, int backend, const Env* env, Owner* owner);

  void OnTransportReady(bool readable, bool writable, bool failed) override;
  void FinishConnect();
  void ContinueHandshake();
  void Open();
  void ReadReplies();
  void UpdateInterest();
  Transport::Binding binding() { return {fd_, this, &decoder_, &output_}; }

  const int fd_;
  const tls::Context* const tls_;
  const int backend_;
  const Env* const env_;
  Owner* const owner_;
  State state_ = State::kConnecting;
  protocol::FrameDecoder decoder_;
  protocol::OutputQueue output_;
  std::deque<uint64_t> in_flight_;  // calls sent, oldest first
  std::unique_ptr<Transport> transport_;
};

}  // namespace upstream
}  // namespace server

#endif  // SERVER_UPSTREAM_UPSTREAM_CONNECTION_H_
