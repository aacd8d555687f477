// Connection: one client connection and its state machine, owned by one worker for its life.
//
// It holds the partial input (its decoder), the replies not yet written (its output queue),
// its Session (the handler instance and the replies held in order, server/dispatch/session.h)
// and its Transport (how its bytes move: plain, TLS or io_uring, server/net/transport.h). It
// reads, decodes, dispatches, flushes and says what it waits for, and every change of state
// happens here, in methods named for why:
//
//   kHandshaking --done--> kProbation --first frame--> kOpen <--> kPausedOutput / kPausedInflight
//                              |                         |  <--> kPausedMemory
//                              +---- a handler asks, a bad header: kClosingAfterReply ----+
//                              +---- end of stream: kPeerClosed (answer what came) -------+--> kClosed
//
// The policies it does not own, it asks of its Host (the worker and its parts): the timers, the
// memory budget, the list of connections with work left for the end of the loop's turn, and
// its freeing (deferred: at the end of the turn, once its transport is idle).
//
//   Connection c(fd, id, &served, &env);
//   c.Start();                // handshake or probation; from then on the transport's events
//   ...                       // drive it, and the Host's parts call the public methods below
//
// Thread rule: the owning worker's loop thread only.
#ifndef SERVER_NET_CONNECTION_H_
#define SERVER_NET_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/intrusive_list.h"
#include "common/log_limiter.h"
#include "common/timer_list.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"
#include "server/dispatch/served_handler.h"
#include "server/dispatch/session.h"
#include "server/net/connection_report.h"
#include "server/net/connection_state.h"
#include "server/net/reply_latency.h"
#include "server/net/transport.h"
#include "server/net/transports.h"
#include "server/stats/stats.h"

namespace server {


class Connection : private TransportEvents, private Session::Owner {
 public:
  // The policies a connection asks its worker for.
  class Host {
   public:
    virtual ~Host() = default;
    // `c` has work left for the end of this turn: frames after a fairness yield, input its
    // transport holds, answers given later to write. The host calls c->Continue() then.
    virtual void ContinueAfterTurn(Connection* c) = 0;
    // Bytes moved (the idle timer restarts).
    virtual void OnActivity(Connection* c) = 0;
    // Whether an incomplete frame (or handshake) is buffered; `started`: a new one began.
    virtual void OnFrameProgress(Connection* c, bool incomplete, bool started) = 0;
    // What `c` holds (HeldBytes) may have changed: the memory budget.
    virtual void OnHeldBytesChanged(Connection* c) = 0;
    // How much output `c` may queue before it stops reading.
    virtual size_t MaxPendingOutput(const Connection& c) const = 0;
    // `c` has closed: free it once its transport is idle, and not before the turn ends.
    virtual void OnClosed(Connection* c) = 0;
  };

  // What the worker lends all its connections. Not owned; outlives them.
  struct Env {
    uint32_t max_frame_bytes;
    int max_frames_per_batch;   // fairness: frames served per read before yielding
    size_t max_inflight;        // requests unanswered before it stops reading
    Transports* transports;
    const Session::Services* session;
    WorkerStats* stats;
    common::LogLimiter* log;
    Host* host;
  };

  // Where the worker's parts keep this connection; each hook leaves its list when destroyed.
  struct Hooks {
    explicit Hooks(Connection* c) : ready(c), memory_paused(c), idle(c), frame(c) {}
    common::ListHook<Connection> ready;          // work left for the end of the turn
    common::ListHook<Connection> memory_paused;  // to resume when the budget has room
    common::TimerHook<Connection> idle;          // restarted by any traffic
    common::TimerHook<Connection> frame;         // runs while an incomplete frame is buffered
    int64_t charged = 0;                         // HeldBytes() as last charged to the budget
  };

  // `fd` is a connected socket, closed by the connection; `served` its listener's handler.
  Connection(int fd, uint64_t id, const ServedHandler* served, const Env* env);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the handshake, or the handler and probation. May close (TLS could not start).
  void Start();
  // The work it asked for at the end of the turn (Host::ContinueAfterTurn).
  void Continue();

  // Stops reading while the memory budget is exceeded, if it was growing (reading, with a
  // partial frame buffered); false if it was not. ResumeAfterMemory() undoes it.
  bool PauseForMemory();
  void ResumeAfterMemory();

  // Closes the descriptor (the transport cancels what is in flight), cuts the link for answers
  // given later, and tells the host. Idempotent.
  void Close();
  // The grace period is over: requests still waiting get `status` as their reply, the output
  // goes as far as the socket takes it now, and the connection closes.
  void CloseAnswering(const absl::Status& status);
  // While the server drains: nothing received is unanswered, nothing answered unsent, and the
  // socket holds no request not yet read.
  bool Done() const;

  ConnectionState state() const { return state_; }
  bool closed() const { return state_ == ConnectionState::kClosed; }
  uint64_t id() const { return id_; }
  const std::string& peer() const { return peer_; }
  // Memory held for this connection: input not yet answered, replies not yet written or held
  // in order, counting their buffers' room, and what its transport holds (what
  // --max_buffer_memory bounds, server/memory/memory_budget.h).
  int64_t HeldBytes() const;
  size_t pending_output() const { return output_.size(); }
  // What the admin port's /connections shows (connection_report.cc); the worker fills `worker`.
  ConnectionReport Report(int64_t now_ns) const;
  Hooks& hooks() { return hooks_; }

  // Closed, for the host's deferred delete: whether the kernel still holds operations of its
  // transport, and freeing what the budget no longer counts meanwhile.
  bool io_idle() const { return transport_ == nullptr || transport_->idle(); }
  void ReleaseBuffers();

 private:
  // TransportEvents.
  void OnTransportReady(bool readable, bool writable, bool failed) override;
  // Session::Owner.
  void OnAnswersPlaced(bool close_after) override;

  // The path of a frame: ReadAndServe -> Serve -> Flush -> UpdateInterest.
  void ContinueHandshake();
  void StartSession();
  void ReadAndServe();
  void Serve();
  void ApplyStop(StopReason stopped);
  void Flush();
  void UpdateInterest();
  void UpdateFrameTimer(bool frame_taken);
  void ListIfInputPending();

  // Changes of state.
  void LeaveProbation();
  void Pause(ConnectionState why);
  void ResumeIfDrained();
  void CloseAfterReply();
  void PeerClosed();
  void CloseSocket();  // Close() without telling the host

  bool reading() const {
    return state_ == ConnectionState::kProbation || state_ == ConnectionState::kOpen;
  }
  // Frames buffered are answered (a connection closing after a reply owes nothing more).
  bool serving() const {
    return reading() || state_ == ConnectionState::kPausedMemory ||
           state_ == ConnectionState::kPeerClosed;
  }
  bool paused_by_backpressure() const {
    return state_ == ConnectionState::kPausedOutput || state_ == ConnectionState::kPausedInflight;
  }
  bool answering_then_closing() const {
    return state_ == ConnectionState::kPeerClosed || state_ == ConnectionState::kClosingAfterReply;
  }
  bool input_buffered() const {
    return decoder_.buffered_bytes() > 0 || transport_->input_pending();
  }
  // Nothing received is left unanswered and nothing answered is left unsent. After a handler
  // asked to close, what came after its request is not owed.
  bool OwesNothing() const;
  Transport::Binding binding() { return {fd_, this, &decoder_, &output_}; }

  const int fd_;
  const uint64_t id_;
  const std::string peer_;
  const ServedHandler* const served_;
  const Env* const env_;
  ConnectionState state_ = ConnectionState::kProbation;
  protocol::FrameDecoder decoder_;  // bytes received, not yet answered
  protocol::OutputQueue output_;    // replies not yet taken by the socket
  Session session_;
  std::unique_ptr<Transport> transport_;
  Hooks hooks_{this};
  ReplyLatency latency_;
  int64_t frames_taken_ = 0;
  const int64_t started_ns_ = common::MonotonicNanos();
  int64_t bytes_in_ = 0;   // for Report()
  int64_t bytes_out_ = 0;
};

}  // namespace server

#endif  // SERVER_NET_CONNECTION_H_
