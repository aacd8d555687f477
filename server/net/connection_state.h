// ConnectionState: where a connection is in its life (server/net/connection.h has the
// diagram and the methods that move it), and its name for logs and the admin pages.
#ifndef SERVER_NET_CONNECTION_STATE_H_
#define SERVER_NET_CONNECTION_STATE_H_

namespace server {

enum class ConnectionState {
  kHandshaking,        // TLS: the handshake comes first; nothing is read before it is done
  kProbation,          // no frame completed yet: waits in the probation set
  kOpen,               // reading and answering
  kPausedOutput,       // not reading: its unsent output is over the bound
  kPausedInflight,     // not reading: --max_inflight_per_connection unanswered, or a call offloaded
  kPausedMemory,       // not reading: --max_buffer_memory is exceeded and it was growing
  kClosingAfterReply,  // a handler asked to close, or a bad header: answer what came before
  kPeerClosed,         // the client finished sending: answer what it sent, then close
  kClosed,             // descriptor closed; freed at the end of the loop's turn
};
const char* ConnectionStateName(ConnectionState state);

}  // namespace server

#endif  // SERVER_NET_CONNECTION_STATE_H_
