// Connection: the state of one client connection, owned by one worker for its whole life.
//
// Plain data with no behaviour of its own: the worker's event loop (worker.cc) drives it. It
// holds the partial input (in the decoder), the replies not yet written, the per-connection
// handler instance, and its place in the worker's timer lists.
//
// Thread rule: touched only by the owning worker's thread.
#ifndef SERVER_CONNECTION_H_
#define SERVER_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>

#include "handlers/handler.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"
#include "server/timer_list.h"

namespace server {

struct Connection {
  Connection(int fd, uint32_t max_frame_bytes, std::unique_ptr<handlers::Handler> handler)
      : fd(fd), decoder({.max_frame_bytes = max_frame_bytes}), handler(std::move(handler)) {}

  const int fd;
  protocol::FrameDecoder decoder;  // bytes received, not yet answered
  protocol::OutputQueue output;    // replies not yet taken by the socket
  std::unique_ptr<handlers::Handler> handler;

  TimerNode idle_timer{this};   // restarted by any traffic
  TimerNode frame_timer{this};  // runs while an incomplete frame is buffered

  bool in_epoll = false;
  bool on_probation = true;     // in the worker's probation set until it completes a frame
  uint32_t epoll_events = 0;    // the interest currently registered
  bool reading_paused = false;  // output above --max_pending_output_bytes
  bool peer_closed = false;     // read() returned 0: answer what came, then close
  bool ready = false;           // on the worker's ready list (frames left by a fairness yield)
  bool closed = false;          // fd closed; freed at the end of the loop iteration
};

}  // namespace server

#endif  // SERVER_CONNECTION_H_
