#include "server/net/connection_state.h"

namespace server {

const char* ConnectionStateName(ConnectionState state) {
  switch (state) {
    case ConnectionState::kHandshaking: return "handshaking";
    case ConnectionState::kProbation: return "probation";
    case ConnectionState::kOpen: return "open";
    case ConnectionState::kPausedOutput: return "paused-output";
    case ConnectionState::kPausedInflight: return "paused-inflight";
    case ConnectionState::kPausedMemory: return "paused-memory";
    case ConnectionState::kClosingAfterReply: return "closing-after-reply";
    case ConnectionState::kPeerClosed: return "peer-closed";
    case ConnectionState::kClosed: return "closed";
  }
  return "?";
}

}  // namespace server
