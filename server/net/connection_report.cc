// Connection::Report, apart from the state machine: what /connections shows of it.
#include "server/net/connection.h"

namespace server {

ConnectionReport Connection::Report(int64_t now_ns) const {
  ConnectionReport report;
  report.id = id_;
  report.peer = peer_;
  report.age_ms = (now_ns - started_ns_) / 1'000'000;
  report.state = ConnectionStateName(state_);
  report.bytes_in = bytes_in_;
  report.bytes_out = bytes_out_;
  report.pending_output = output_.size();
  report.requests_in_flight = session_.places();
  if (transport_ != nullptr && state_ != ConnectionState::kHandshaking) {
    handlers::ConnectionInfo info;
    transport_->Describe(&info);
    report.tls = info.tls;
    report.tls_subject = std::move(info.peer_certificate_subject);
  }
  return report;
}

}  // namespace server
