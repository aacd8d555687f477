// RunConnectBench: how many new connections a second the server takes, one after another:
// connect, TLS handshake (if options.tls), one request and its reply, close. With `resume`, each
// connection offers the previous one's TLS session, so the rate is that of resumed handshakes.
//
//   absl::StatusOr<ConnectBenchResult> r = RunConnectBench(options, /*resume=*/true);
//   // r->connections / elapsed, r->resumed of them resumed
#ifndef CLIENT_CONNECT_BENCH_H_
#define CLIENT_CONNECT_BENCH_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/bench.h"
#include "common/latency_histogram.h"

namespace client {

struct ConnectBenchResult {
  int64_t connections = 0;  // completed: connected, answered, closed
  int64_t resumed = 0;      // of them, TLS sessions resumed
  int64_t errors = 0;
  std::string first_error;
  absl::Duration elapsed;
  common::LatencyHistogram::Snapshot latency;  // connect to reply, per connection
};

// Uses options.host, port, timeout, duration (or requests: connections in all), tls.
absl::StatusOr<ConnectBenchResult> RunConnectBench(const BenchOptions& options, bool resume);

}  // namespace client

#endif  // CLIENT_CONNECT_BENCH_H_
