#include "client/bench.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "client/bench_thread.h"
#include "client/workload.h"
#include "common/clock.h"

namespace client {
namespace {

std::string MakePayload(int size) {
  std::string payload(size, '\0');
  for (int i = 0; i < size; ++i) payload[i] = "abcdefghijklmnopqrstuvwxyz0123456789-"[i % 37];
  return payload;
}

// The request every connection sends without --kv_mix, and the reply --verify expects.
std::shared_ptr<const FixedRequest> MakeFixedRequest(const BenchOptions& options) {
  auto fixed = std::make_shared<FixedRequest>();
  fixed->payload = options.request.empty() ? MakePayload(options.payload_bytes) : options.request;
  if (options.verify == Verify::kEcho) fixed->expected = fixed->payload;
  if (options.verify == Verify::kUppercase) fixed->expected = absl::AsciiStrToUpper(fixed->payload);
  fixed->protocol = options.protocol;
  return fixed;
}

}  // namespace

absl::StatusOr<BenchResult> RunBench(const BenchOptions& options, BenchProgress* progress) {
  const int threads = std::max(1, std::min(options.threads, options.connections));
  const std::shared_ptr<const FixedRequest> fixed = MakeFixedRequest(options);
  std::vector<std::unique_ptr<BenchThread>> workers;
  int first_connection = 0;
  for (int t = 0; t < threads; ++t) {
    // Spread connections and requests evenly; the first threads take the remainders.
    const int connections = options.connections / threads + (t < options.connections % threads);
    const int64_t requests = options.requests / threads + (t < options.requests % threads);
    workers.push_back(std::make_unique<BenchThread>(options, fixed, requests,
                                                    options.rate / threads, progress));
    if (absl::Status s = workers.back()->Connect(connections, first_connection); !s.ok()) {
      return s;
    }
    first_connection += connections;
  }
  const int64_t stop_at = common::MonotonicNanos() + absl::ToInt64Nanoseconds(options.duration);
  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([&w, stop_at] { w->Run(stop_at); });
  for (std::thread& t : running) t.join();
  BenchResult result;
  for (const auto& w : workers) w->AddTo(&result);
  return result;
}

}  // namespace client
