// Bench: a load generator for the server's protocol.
//
// Each of `threads` threads runs an epoll loop over its share of `connections` non-blocking
// connections and keeps `pipeline` requests in flight on each, writing and reading in batches,
// so that the generator is not the bottleneck. Latency is measured per request from the batch
// that sent it to the batch that read its reply, into a histogram with bounded error.
//
//   BenchOptions options;
//   options.port = 8080;
//   options.requests = 100000;
//   absl::StatusOr<BenchResult> result = RunBench(options, /*progress=*/nullptr);
#ifndef CLIENT_BENCH_H_
#define CLIENT_BENCH_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/latency_histogram.h"
#include "protocol/frame.h"

namespace client {

enum class Verify { kNone, kEcho, kUppercase };

struct BenchOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int connections = 50;
  int pipeline = 1;
  int payload_bytes = 64;
  int64_t requests = 0;                              // total; 0 means run for `duration`
  absl::Duration duration = absl::Seconds(10);       // used when requests == 0
  int threads = 1;
  double rate = 0;                                   // requests/s in all; 0: as fast as possible
  Verify verify = Verify::kNone;
  absl::Duration timeout = absl::Seconds(10);        // connect, and longest wait for a reply
  uint32_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;  // largest reply accepted
  // A request that got no byte of its reply when the server closed the connection (a drain, a
  // restart) is sent again on a new connection, up to this many times. Safe only for idempotent
  // handlers (echo, uppercase); 0: such requests are errors.
  int retries = 0;
};

struct BenchResult {
  int64_t requests = 0;    // replies received
  int64_t errors = 0;      // error replies, failed connections, replies that never came
  int64_t mismatches = 0;  // replies that failed --verify
  int64_t retries = 0;     // requests sent again after the server closed a connection
  int64_t reconnects = 0;  // connections opened again
  int64_t bytes = 0;       // payload bytes sent and received
  absl::Duration elapsed;
  common::LatencyHistogram::Snapshot latency;
  std::string first_error;  // the first error's message, if any
};

// Live counts for a progress display, read while RunBench runs.
struct BenchProgress {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> errors{0};
};

// Runs the benchmark. A failure to connect at all is an error status; anything that goes wrong
// later is counted in the result.
absl::StatusOr<BenchResult> RunBench(const BenchOptions& options, BenchProgress* progress);

}  // namespace client

#endif  // CLIENT_BENCH_H_
