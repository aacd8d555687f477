#include "server/net/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/clock.h"
#include "glog/logging.h"
#include "server/net/socket.h"

namespace server {

// An emptied output queue keeps at most this much allocated, so idle connections stay small.
constexpr size_t kKeepOutputCapacity = 16 << 10;

Connection::Connection(int fd, uint64_t id, const ServedHandler* served, const Env* env)
    : fd_(fd),
      id_(id),
      peer_(PeerName(fd)),
      served_(served),
      env_(env),
      decoder_({.max_frame_bytes = env->max_frame_bytes}),
      session_(env->session, served, id, &output_, this) {}

// A connection is destroyed closed (its host frees it after Close()), except with its worker:
// then the host is not told.
Connection::~Connection() { CloseSocket(); }

void Connection::Start() {
  transport_ = env_->transports->ForAccepted(binding(), served_->tls);
  if (transport_ == nullptr) return Close();  // TLS could not start (logged)
  if (!transport_->handshake_done()) {
    // Bound by the frame timeout: a client that never finishes its handshake is treated like
    // one that never finishes its first frame.
    state_ = ConnectionState::kHandshaking;
    env_->host->OnFrameProgress(this, /*incomplete=*/true, /*started=*/true);
  } else {
    StartSession();
  }
  UpdateInterest();
}

// The handler is made once the transport knows who the client is.
void Connection::StartSession() {
  handlers::ConnectionInfo info{id_, peer_, LocalName(fd_)};
  transport_->Describe(&info);
  session_.Start(std::move(info));
  state_ = ConnectionState::kProbation;
}

void Connection::OnTransportReady(bool readable, bool writable, bool failed) {
  if (closed()) return;
  if (state_ == ConnectionState::kHandshaking) return ContinueHandshake();
  if (writable) Flush();
  if (closed() || !(readable || failed)) return;
  if (reading()) {
    ReadAndServe();
  } else if (failed) {
    Close();  // not reading from it: an error or hang-up can only be seen this way
  }
}

void Connection::ContinueHandshake() {
  switch (transport_->ContinueHandshake()) {
    case Transport::Handshake::kWaiting: return UpdateInterest();
    case Transport::Handshake::kFailed: return Close();  // counted and logged by the transport
    case Transport::Handshake::kDone: break;
  }
  env_->host->OnFrameProgress(this, /*incomplete=*/false, /*started=*/false);
  env_->host->OnActivity(this);
  StartSession();
  UpdateInterest();
  ReadAndServe();  // a client may send its first frame with its last handshake message
}

void Connection::Continue() {
  if (closed()) return;
  // What the transport holds first, then the frames.
  if (reading() && transport_->input_pending()) return ReadAndServe();
  if (serving() && decoder_.buffered_bytes() > 0) Serve();  // not for answers given later alone
  if (!closed()) Flush();
}

void Connection::ReadAndServe() {
  const IoResult read = transport_->Read();
  switch (read.kind) {
    case IoResult::kOk:
      if (read.bytes == 0) {
        // Part of a TLS record may have come: the transport holds it, unseen by the decoder,
        // so the frame timer and the budget must see it here.
        UpdateFrameTimer(/*frame_taken=*/false);
        env_->host->OnHeldBytesChanged(this);
        if (!closed()) UpdateInterest();
        return;
      }
      env_->stats->bytes_in.Add(read.bytes);
      bytes_in_ += read.bytes;
      env_->host->OnActivity(this);
      latency_.OnRead();
      Serve();
      if (!closed()) Flush();
      ListIfInputPending();
      return;
    case IoResult::kEnd:
      return PeerClosed();
    case IoResult::kError:
      VLOG(1) << "read from " << peer_ << ": " << std::strerror(read.error);
      return Close();
  }
}

// Answers the complete frames buffered, within the limits, and applies what stopped it.
void Connection::Serve() {
  const DispatchResult result =
      session_.Serve(decoder_, {.max_frame_bytes = env_->max_frame_bytes,
                                .max_pending_output_bytes = env_->host->MaxPendingOutput(*this),
                                .max_frames = env_->max_frames_per_batch,
                                .max_inflight = env_->max_inflight});
  // After the client's end of stream, a frame still incomplete once the complete ones are
  // answered is one it will never finish, and not owed.
  if (state_ == ConnectionState::kPeerClosed && result.stopped == StopReason::kNeedMoreBytes) {
    decoder_.Clear();
  }
  frames_taken_ += result.frames;
  if (result.frames > 0 && state_ == ConnectionState::kProbation) LeaveProbation();
  latency_.OnReplies(result.replies);
  ApplyStop(result.stopped);
  if (!closed()) UpdateFrameTimer(result.frames > 0);
}

void Connection::ApplyStop(StopReason stopped) {
  switch (stopped) {
    case StopReason::kNeedMoreBytes: return;
    case StopReason::kOutputFull: return Pause(ConnectionState::kPausedOutput);
    case StopReason::kInflightFull:
    case StopReason::kOffloaded: return Pause(ConnectionState::kPausedInflight);
    case StopReason::kBatchLimit:
      env_->stats->fairness_yields.Add(1);
      return env_->host->ContinueAfterTurn(this);
    // The frames before a bad header were answered: their replies go out first, then the
    // connection closes (Flush closes it once nothing is owed; the rest of the input is not).
    case StopReason::kCloseRequested:
    case StopReason::kProtocolError: return CloseAfterReply();
  }
}

void Connection::Flush() {
  const IoResult written = transport_->Write();
  if (written.kind == IoResult::kError) {
    VLOG(1) << "write to " << peer_ << ": " << std::strerror(written.error);
    return Close();
  }
  if (written.bytes > 0) {
    env_->stats->bytes_out.Add(written.bytes);
    bytes_out_ += written.bytes;
    env_->host->OnActivity(this);
  }
  latency_.OnWrite(env_->stats, /*settled=*/!hooks_.ready.linked() && !paused_by_backpressure());
  if (output_.empty()) {
    output_.Clear(kKeepOutputCapacity);
    ResumeIfDrained();
    if (answering_then_closing() && OwesNothing() && !hooks_.ready.linked()) return Close();
  }
  UpdateInterest();
  if (!closed()) env_->host->OnHeldBytesChanged(this);
}

void Connection::UpdateInterest() {
  const bool read = reading() || state_ == ConnectionState::kHandshaking;
  if (absl::Status status = transport_->Wait(read, !output_.empty()); !status.ok()) {
    LOG(ERROR) << "closing " << peer_ << ": " << status.message();
    Close();
  }
}

// The frame timer runs only while the client owes the rest of a frame it has started (on TLS,
// or of a record: bytes the transport holds).
void Connection::UpdateFrameTimer(bool frame_taken) {
  const bool incomplete = input_buffered() && !hooks_.ready.linked() && reading();
  env_->host->OnFrameProgress(this, incomplete, frame_taken);
}

// Input the transport holds gets no event: the end of the turn brings the connection back.
void Connection::ListIfInputPending() {
  if (!closed() && reading() && transport_->input_pending()) env_->host->ContinueAfterTurn(this);
}

void Connection::OnAnswersPlaced(bool close_after) {
  if (close_after) CloseAfterReply();
  // Written at the end of the turn: the answers of one group commit, or of many handler
  // calls, leave in one write per connection rather than one each.
  env_->host->ContinueAfterTurn(this);
}

void Connection::LeaveProbation() {
  transport_ = env_->transports->ForEstablished(std::move(transport_), binding(), served_->tls);
  state_ = ConnectionState::kOpen;
}

// Backpressure: stop reading its requests until its replies drain or come back.
void Connection::Pause(ConnectionState why) {
  if (state_ != ConnectionState::kOpen) return;
  state_ = why;
  env_->stats->reads_paused.Add(1);
}

// Backpressure released: its output drained, it is below the in-flight bound, and no call of
// it is on the handler threads.
void Connection::ResumeIfDrained() {
  if (session_.Offloading()) return;  // its return brings the connection back
  if (state_ == ConnectionState::kPeerClosed && decoder_.buffered_bytes() > 0) {
    return env_->host->ContinueAfterTurn(this);  // frames sent before closing, not answered
  }
  if (!paused_by_backpressure() || session_.places() >= env_->max_inflight) return;
  state_ = ConnectionState::kOpen;
  if (input_buffered()) env_->host->ContinueAfterTurn(this);  // frames read before the pause
}

bool Connection::PauseForMemory() {
  if (!reading() || !input_buffered()) return false;
  state_ = ConnectionState::kPausedMemory;
  env_->stats->reads_paused_memory.Add(1);
  // The server stopped reading, not the client: its partial frame is not timed meanwhile.
  env_->host->OnFrameProgress(this, /*incomplete=*/false, /*started=*/false);
  UpdateInterest();
  return true;
}

void Connection::ResumeAfterMemory() {
  if (state_ != ConnectionState::kPausedMemory) return;  // closing, or closed, since
  state_ = frames_taken_ > 0 ? ConnectionState::kOpen : ConnectionState::kProbation;
  UpdateFrameTimer(/*frame_taken=*/false);  // its partial frame is timed again
  UpdateInterest();
  ListIfInputPending();
}

// Reads nothing more, and closes once every reply owed is written (a handler asked for it, or
// a bad header ended the stream); input after that point is not owed.
void Connection::CloseAfterReply() { if (!closed()) state_ = ConnectionState::kClosingAfterReply; }

// The client has finished sending. Answer what it sent, then close (see Flush).
void Connection::PeerClosed() {
  state_ = ConnectionState::kPeerClosed;
  // Every complete frame read was served, unless it waits on the ready list: what is left is
  // a frame the client will never finish, and not owed.
  if (!hooks_.ready.linked()) decoder_.Clear();
  env_->host->OnFrameProgress(this, /*incomplete=*/false, /*started=*/false);
  if (OwesNothing() && !hooks_.ready.linked()) return Close();
  UpdateInterest();
}

bool Connection::OwesNothing() const {
  return output_.empty() && session_.empty() &&
         (state_ == ConnectionState::kClosingAfterReply || decoder_.buffered_bytes() == 0);
}

bool Connection::Done() const {
  if (closed() || !OwesNothing() || hooks_.ready.linked()) return false;
  char byte;
  // Requests waiting in the socket: the loop will read and answer them.
  return recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

int64_t Connection::HeldBytes() const {
  return static_cast<int64_t>(decoder_.resident_bound() + output_.resident_bound() +
                              session_.held_bytes()) +
         (transport_ != nullptr ? transport_->held_bytes() : 0);
}

void Connection::CloseAnswering(const absl::Status& status) {
  if (closed()) return;
  session_.AnswerAllWaiting(status);
  transport_->WriteNow();  // best effort, never waiting
  Close();
}

void Connection::Close() {
  if (closed()) return;
  CloseSocket();
  env_->host->OnClosed(this);
}

void Connection::CloseSocket() {
  if (closed()) return;
  state_ = ConnectionState::kClosed;
  session_.Close();
  if (transport_ != nullptr) transport_->Close();  // before close(): cancels by the ring
  close(fd_);
}

// Closed, waiting for io_idle(): frees the input and output now, so that memory the budget no
// longer counts is not held a turn longer (receives land in the ring's buffers, and the send
// was cancelled at once by Close()).
void Connection::ReleaseBuffers() {
  decoder_.Clear();
  if (transport_ == nullptr || transport_->output_released()) output_.Clear();
}

}  // namespace server
