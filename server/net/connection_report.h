// ConnectionReport: one connection as the admin port's /connections shows it, taken on its
// worker's loop thread (Connection::Report) and read anywhere after.
#ifndef SERVER_NET_CONNECTION_REPORT_H_
#define SERVER_NET_CONNECTION_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace server {

struct ConnectionReport {
  uint64_t id = 0;
  int worker = 0;
  std::string peer;            // "127.0.0.1:51234"
  int64_t age_ms = 0;          // since it was accepted
  std::string state;           // ConnectionStateName(): open, probation, paused_output, ...
  int64_t bytes_in = 0;        // read from the client, headers included
  int64_t bytes_out = 0;       // written to it
  size_t pending_output = 0;   // replies queued, not yet taken by the socket
  size_t requests_in_flight = 0;  // taken, their replies not yet all written
  bool tls = false;
  std::string tls_subject;     // the client certificate's subject, if it sent one
};

}  // namespace server

#endif  // SERVER_NET_CONNECTION_REPORT_H_
