// Connection: one client connection, owned by one worker for its whole life.
//
// It holds the partial input (in the decoder), the replies not yet written (output, and those
// held in order behind requests answered later), the per-connection handler instance, its
// place in the worker's timer lists, and an explicit state:
//
//   kProbation --first frame--> kOpen <--> kPaused (output or in-flight bound reached)
//        |                        |
//        +-------- EOF -----------+--> kPeerClosed (answer what came, then close) --> kClosed
//
// On the io_uring backend, once off probation, a plain-text connection reads and writes by
// completions (server/completion_io.h) instead of readiness; Read and Flush mean the same.
//
// On a TLS listener it first completes the handshake (Handshake) and reads and writes through
// the TLS stream; its handler is made once the handshake has said who the client is.
//
// It does the socket I/O (Read, Flush) and runs the frame dispatch (Serve); the worker decides
// what to do with the results (its policies: fairness, backpressure, probation, drain). It
// knows nothing of the worker: the loop calls it as a Watcher and it passes the events on to
// its owner through a callback.
//
// Thread rule: the owning worker's thread only; link() is what other threads may hold.
#ifndef SERVER_CONNECTION_H_
#define SERVER_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>

#include "common/poller.h"
#include "common/uring.h"
#include "handlers/handler.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"
#include "server/completion_io.h"
#include "server/dispatch.h"
#include "server/reply_order.h"
#include "server/served_handler.h"
#include "server/timer_list.h"
#include "tls/stream.h"

namespace server {

class ConnectionLink;
class HandlerPool;
class SerialCalls;

enum class ConnectionState {
  kProbation,   // no frame completed yet; in the worker's probation set
  kOpen,        // reading and answering
  kPaused,      // not reading: too much unsent output or too many requests unanswered
  kPeerClosed,  // the client finished sending: answer what it sent, then close
  kClosed,      // descriptor closed; freed at the end of the loop turn
};

class Connection : public common::Watcher {
 public:
  // Whoever owns the connection (the worker): the loop's events go there.
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual void OnConnectionEvents(Connection* c, uint32_t events) = 0;
  };

  // `handler` may be null until set_handler() (a TLS connection gets its handler after the
  // handshake); nothing is read before it has one.
  Connection(int fd, uint64_t id, uint32_t max_frame_bytes,
             std::unique_ptr<handlers::Handler> handler, Owner* owner);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // What one Read() did.
  enum class ReadResult { kData, kNothing, kEndOfStream, kError };
  // Reads what the socket has into the decoder (large frames straight into place, otherwise
  // through `scratch`, a buffer the worker shares among its connections). `*bytes` is how much.
  ReadResult Read(char* scratch, size_t scratch_bytes, int64_t* bytes);
  // Writes what the socket takes of the output; false on a write error. `*bytes` is how much.
  // On completions, asks for a send and reports the sends completed since the last call.
  bool Flush(int64_t* bytes);
  // Best effort before closing (the grace deadline): what the socket takes now, never waiting
  // for a completion.
  void FlushNow();
  // Answers the complete frames buffered (server/dispatch.h).
  DispatchResult Serve(const DispatchLimits& limits, LaterAnswers* later);

  // TLS: the stream to read and write through (before the first Read), and the handshake.
  void set_tls(std::unique_ptr<tls::Stream> stream) { tls_ = std::move(stream); }
  const tls::Stream* tls() const { return tls_.get(); }
  bool handshaking() const { return tls_ != nullptr && !tls_->handshake_done(); }
  // Input waits inside the connection that no readiness event will announce: bytes OpenSSL
  // read ahead, or completions that came while the connection was not read.
  bool input_pending() const {
    return (tls_ != nullptr && tls_->pending()) ||
           (completions_ != nullptr && completions_->input_pending());
  }
  tls::Progress Handshake() { return tls_->Handshake(); }
  void set_handler(std::unique_ptr<handlers::Handler> handler) {
    handler_ = handler.get();
    owned_handler_ = std::move(handler);
  }

  // io_uring: from now on reads and writes are completions on `uring`. The descriptor must be
  // in no epoll set.
  void UseCompletions(common::Uring* uring) {
    completions_ = std::make_unique<CompletionIo>(fd_, uring, &decoder, &output, this);
  }
  bool uses_completions() const { return completions_ != nullptr; }
  // Completions: arms or cancels the receive (the readiness path's EPOLLIN interest).
  void SetReceiving(bool wanted) { completions_->SetReceiving(wanted); }
  // The kernel holds no operation of this connection: it may be freed.
  bool io_idle() const { return completions_ == nullptr || completions_->Idle(); }
  // Closed, waiting for io_idle(): frees the input and output now, so that memory the budget
  // no longer counts is not held a turn longer (receives land in the ring's buffers, and the
  // send was cancelled at once by Close()).
  void ReleaseBuffers() {
    decoder.Clear();
    if (completions_ == nullptr || completions_->output_released()) output.Clear();
  }

  // Closes the descriptor (which also leaves every epoll set, and cancels operations in
  // flight) and cuts the link: answers that arrive later are discarded.
  void Close();

  // Nothing received is left unanswered and nothing answered is left unsent. After a handler
  // asked to close, what came after its request is not owed.
  bool OwesNothing() const {
    return output.empty() && order.empty() &&
           (close_after_reply || decoder.buffered_bytes() == 0);
  }
  // The epoll interest this state calls for.
  uint32_t WantedEvents() const;

  // Reads nothing more, and closes once every reply owed is written (a handler asked for it,
  // or a bad header ended the stream); input after that point is not owed.
  void CloseWhenAnswered() {
    close_after_reply = true;
    state_ = ConnectionState::kPeerClosed;
  }

  ConnectionState state() const { return state_; }
  void set_state(ConnectionState state) { state_ = state; }
  bool closed() const { return state_ == ConnectionState::kClosed; }
  bool reading() const {
    return (state_ == ConnectionState::kProbation || state_ == ConnectionState::kOpen) &&
           !memory_paused && !handshaking();
  }
  // Memory held for this connection: input not yet answered (on TLS, also what OpenSSL has
  // read ahead), replies not yet written or held in order, counting the room of their buffers
  // (what --max_buffer_memory bounds, server/memory/memory_budget.h).
  int64_t HeldBytes() const {
    return static_cast<int64_t>(decoder.resident_bound() + output.resident_bound() +
                                order.held_bytes() + (tls_ != nullptr ? tls_->held_bytes() : 0));
  }

  int fd() const { return fd_; }
  uint64_t id() const { return id_; }
  // The handler, shared with calls on handler threads that may outlive the connection. Made
  // on first use: connections of non-blocking handlers never pay for the shared count.
  std::shared_ptr<handlers::Handler> shared_handler();
  // Where this connection's blocking calls run, one at a time (serial_calls.h). Made on first use.
  SerialCalls& serial_calls(HandlerPool* pool);
  // Whether a call of this connection is queued or running on the handler threads.
  bool blocking_calls_pending() const;
  const std::shared_ptr<ConnectionLink>& link() const { return link_; }
  void set_link(std::shared_ptr<ConnectionLink> link) { link_ = std::move(link); }

  protocol::FrameDecoder decoder;  // bytes received, not yet answered
  protocol::OutputQueue output;    // replies not yet taken by the socket
  ReplyOrder order{&output};       // replies waiting for earlier, later-answered ones

  TimerNode idle_timer{this};   // restarted by any traffic
  TimerNode frame_timer{this};  // runs while an incomplete frame is buffered

  // Worker bookkeeping.
  const ServedHandler* served = nullptr;  // its listener's handler and transport
  bool blocking = false;            // its handler's calls run on the handler threads
  bool registered = false;          // in an epoll set (the probation set while on probation)
  uint32_t registered_events = 0;   // the interest registered there
  bool on_ready_list = false;       // frames left by a fairness yield
  bool flush_after_turn = false;    // on the worker's list of late answers to write
  bool close_after_reply = false;   // a handler asked to close once its reply is written
  int64_t unanswered_since_ns = 0;  // the read that brought the oldest unanswered bytes; 0: none
  int64_t replies_to_time = 0;      // replies queued since, whose latency the next write ends
  int64_t charged = 0;              // HeldBytes() as last charged to the memory budget
  bool memory_paused = false;       // not read until the memory budget has room again

 private:
  void OnEvents(uint32_t events) override { owner_->OnConnectionEvents(this, events); }
  // read(2) or, on TLS, as much as fits of what the stream has decrypted; read(2)'s results.
  ssize_t Receive(char* data, size_t size);
  // Writes what the socket takes of the output; read(2)'s results.
  ssize_t Send();

  const int fd_;
  const uint64_t id_;
  ConnectionState state_ = ConnectionState::kProbation;
  handlers::Handler* handler_;                         // one of the two below
  std::unique_ptr<handlers::Handler> owned_handler_;  // until shared_handler() is called
  std::shared_ptr<handlers::Handler> shared_handler_;
  std::shared_ptr<ConnectionLink> link_;
  std::shared_ptr<SerialCalls> serial_calls_;  // shared with the pool task draining it
  std::unique_ptr<tls::Stream> tls_;           // null on a plain-text listener
  std::unique_ptr<CompletionIo> completions_;  // null unless on the io_uring backend
  Owner* const owner_;  // not owned
};

}  // namespace server

#endif  // SERVER_CONNECTION_H_
