#include "client/connect_bench.h"

#include "client/client.h"
#include "common/clock.h"

namespace client {

absl::StatusOr<ConnectBenchResult> RunConnectBench(const BenchOptions& options, bool resume) {
  ConnectBenchResult result;
  common::LatencyHistogram latency;
  tls::Stream::Session session;
  const int64_t start = common::MonotonicNanos();
  const int64_t end = start + absl::ToInt64Nanoseconds(options.duration);
  while (options.requests > 0 ? result.connections + result.errors < options.requests
                              : common::MonotonicNanos() < end) {
    const int64_t began = common::MonotonicNanos();
    absl::StatusOr<std::unique_ptr<Client>> c =
        Client::Connect(options.host, options.port, options.timeout, options.max_frame_bytes,
                        options.tls, resume ? session : nullptr);
    absl::Status status = c.status();
    if (status.ok()) {
      absl::StatusOr<Client::Reply> reply = (*c)->Call("connect bench");
      if (!reply.ok()) status = reply.status();
      else if (reply->is_error) status = absl::InternalError(reply->payload);
    }
    if (!status.ok()) {
      if (result.errors++ == 0) result.first_error = std::string(status.message());
      if (result.errors > 100 && result.connections == 0) return status;  // nothing works
      continue;
    }
    latency.Record(absl::Nanoseconds(common::MonotonicNanos() - began));
    ++result.connections;
    if (const tls::Stream* stream = (*c)->tls()) {
      result.resumed += stream->session_reused();
      if (resume) session = stream->resumable_session();  // after a reply: TLS 1.3's ticket came
    }
  }
  result.elapsed = absl::Nanoseconds(common::MonotonicNanos() - start);
  result.latency = latency.TakeSnapshot();
  return result;
}

}  // namespace client
