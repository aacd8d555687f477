// ConnectionLink: how an answer given later, on any thread, finds its connection.
//
// A handler's Completion (handlers/handler.h) holds a link, not the connection: the link encodes
// the reply frame on the completing thread, then posts it to the connection's event loop. There,
// and only there, the link knows whether the connection still exists (Cut() is called on the
// loop when it closes), so a late answer can never touch freed memory: it is handed to the
// receiver with a null connection and discarded (and counted). One that comes after the loop
// itself has stopped (the server is past its shutdown) is dropped by the loop's task queue. Made on the first request of a connection that
// is not answered inline; connections served only inline never have one.
//
// Thread rule: Complete() from any thread; Cut() and the delivery on the loop thread.
#ifndef SERVER_CONNECTION_LINK_H_
#define SERVER_CONNECTION_LINK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "common/event_loop.h"
#include "handlers/handler.h"

namespace server {

class Connection;

// Receives answers given later, on the loop thread.
class LateReplyReceiver {
 public:
  virtual ~LateReplyReceiver() = default;
  // `connection` is null if it has closed. `frame` is the whole reply frame.
  virtual void OnLateReply(Connection* connection, uint64_t request, std::string frame,
                           bool is_error, bool close_after) = 0;
};

class ConnectionLink : public handlers::CompletionSink,
                       public std::enable_shared_from_this<ConnectionLink> {
 public:
  // `receiver` is the worker that owns `connection` and runs `loop`; it outlives every task
  // posted to that loop.
  ConnectionLink(Connection* connection, std::shared_ptr<common::TaskQueue> loop,
                 LateReplyReceiver* receiver, uint32_t max_frame_bytes)
      : connection_(connection),
        loop_(std::move(loop)),
        receiver_(receiver),
        max_frame_bytes_(max_frame_bytes) {}

  void Complete(uint64_t request, absl::Status status, std::string payload,
                bool close_after) override;

  // Loop thread: the connection has closed.
  void Cut() { connection_ = nullptr; }

 private:
  Connection* connection_;  // loop thread only; null once closed
  const std::shared_ptr<common::TaskQueue> loop_;
  LateReplyReceiver* const receiver_;  // not owned
  const uint32_t max_frame_bytes_;
};

}  // namespace server

#endif  // SERVER_CONNECTION_LINK_H_
