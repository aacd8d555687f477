// The client binary. Sends each MESSAGE argument (or each line of stdin) as one frame and
// prints each reply on its own line; with --bench, generates load and reports throughput and
// latency. Exit status: 0 success, 1 network, protocol or error reply, 2 usage error.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/bench.h"
#include "client/client.h"
#include "common/cli.h"
#include "gflags/gflags.h"

DEFINE_string(host, "127.0.0.1", "Server host name or address.");
DEFINE_int32(port, 8080, "Server port.");
DEFINE_int64(timeout_ms, 5000, "Longest wait to connect, and for each reply.");
DEFINE_uint32(max_frame_bytes, protocol::kDefaultMaxFrameBytes,
              "Largest reply payload accepted (as the server's --max_frame_bytes).");
DEFINE_bool(bench, false,
            "Generate load instead of sending MESSAGEs; see the flags marked 'Bench:'.");
DEFINE_int32(connections, 50, "Bench: connections to open.");
DEFINE_int32(pipeline, 1, "Bench: requests in flight per connection.");
DEFINE_int32(payload_bytes, 64, "Bench: payload size of each request.");
DEFINE_int64(requests, 0, "Bench: total requests to send; 0 means run for --duration_s.");
DEFINE_double(duration_s, 10, "Bench: how long to run when --requests is 0.");
DEFINE_int32(threads, 1, "Bench: load-generating threads (each runs its own epoll loop).");
DEFINE_double(rate, 0, "Bench: requests per second in all (a steady load); 0 means flat out.");
DEFINE_string(verify, "none", "Bench: check each reply: none, echo or uppercase.");
DEFINE_bool(json, false, "Bench: print the summary as one JSON object.");
DEFINE_int32(retries, 0,
             "When the server closes a connection before any byte of a pending reply, send "
             "those requests again on a new connection, up to this many times each (all modes). "
             "Safe only for idempotent handlers (echo, uppercase). Counted apart from errors.");
DEFINE_validator(retries, &common::AtLeast<0>);

namespace {

constexpr int kExitFailure = 1;

client::BenchOptions BenchOptionsFromFlags() {
  if (FLAGS_connections < 1) common::UsageError("--connections must be at least 1");
  if (FLAGS_pipeline < 1) common::UsageError("--pipeline must be at least 1");
  if (FLAGS_payload_bytes < 0 || static_cast<uint32_t>(FLAGS_payload_bytes) > FLAGS_max_frame_bytes) {
    common::UsageError("--payload_bytes must be in 0..--max_frame_bytes");
  }
  if (FLAGS_requests < 0) common::UsageError("--requests must not be negative");
  if (FLAGS_duration_s <= 0) common::UsageError("--duration_s must be positive");
  if (FLAGS_threads < 1) common::UsageError("--threads must be at least 1");
  if (FLAGS_rate < 0) common::UsageError("--rate must not be negative");
  client::BenchOptions options;
  if (FLAGS_verify == "echo") {
    options.verify = client::Verify::kEcho;
  } else if (FLAGS_verify == "uppercase") {
    options.verify = client::Verify::kUppercase;
  } else if (FLAGS_verify != "none") {
    common::UsageError("--verify must be none, echo or uppercase");
  }
  options.host = FLAGS_host;
  options.port = FLAGS_port;
  options.connections = FLAGS_connections;
  options.pipeline = FLAGS_pipeline;
  options.payload_bytes = FLAGS_payload_bytes;
  options.requests = FLAGS_requests;
  options.duration = absl::Seconds(FLAGS_duration_s);
  options.threads = FLAGS_threads;
  options.rate = FLAGS_rate;
  options.timeout = absl::Milliseconds(FLAGS_timeout_ms);
  options.max_frame_bytes = FLAGS_max_frame_bytes;
  options.retries = FLAGS_retries;
  return options;
}

void PrintBench(const client::BenchResult& r) {
  const double seconds = absl::ToDoubleSeconds(r.elapsed);
  const double rate = seconds > 0 ? r.requests / seconds : 0;
  const double mib = seconds > 0 ? r.bytes / seconds / (1 << 20) : 0;
  auto us = [&r](double p) { return absl::ToDoubleMicroseconds(r.latency.Percentile(p)); };
  if (FLAGS_json) {
    std::printf(
        "{\"requests\":%lld,\"errors\":%lld,\"mismatches\":%lld,\"retries\":%lld,"
        "\"reconnects\":%lld,\"seconds\":%.3f,"
        "\"throughput_rps\":%.0f,\"bandwidth_mib_s\":%.1f,\"latency_us\":{\"p50\":%.1f,"
        "\"p90\":%.1f,\"p99\":%.1f,\"p99_9\":%.1f,\"max\":%.1f}}\n",
        static_cast<long long>(r.requests), static_cast<long long>(r.errors),
        static_cast<long long>(r.mismatches), static_cast<long long>(r.retries),
        static_cast<long long>(r.reconnects), seconds, rate, mib, us(50), us(90), us(99),
        us(99.9), absl::ToDoubleMicroseconds(r.latency.max()));
    return;
  }
  std::printf("requests     %lld in %.2f s\n", static_cast<long long>(r.requests), seconds);
  std::printf("throughput   %.0f requests/s, %.1f MiB/s of payload\n", rate, mib);
  std::printf("latency us   p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f\n", us(50), us(90),
              us(99), us(99.9), absl::ToDoubleMicroseconds(r.latency.max()));
  std::printf("errors       %lld\nmismatches   %lld\n", static_cast<long long>(r.errors),
              static_cast<long long>(r.mismatches));
  if (r.retries > 0 || r.reconnects > 0) {
    std::printf("retries      %lld requests on %lld new connections\n",
                static_cast<long long>(r.retries), static_cast<long long>(r.reconnects));
  }
}

int RunBenchMode() {
  const client::BenchOptions options = BenchOptionsFromFlags();
  client::BenchProgress progress;
  absl::StatusOr<client::BenchResult> result;
  std::mutex mu;
  std::condition_variable finished_cv;
  bool finished = false;
  std::thread runner([&] {
    absl::StatusOr<client::BenchResult> r = client::RunBench(options, &progress);
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(r);
    finished = true;
    finished_cv.notify_one();
  });
  {
    // A progress line once a second, for a person watching a terminal.
    const bool show = isatty(STDERR_FILENO);
    std::unique_lock<std::mutex> lock(mu);
    int64_t last = 0;
    for (int second = 1; !finished_cv.wait_for(lock, std::chrono::seconds(1), [&] { return finished; });
         ++second) {
      if (!show) continue;
      const int64_t now = progress.requests.load(std::memory_order_relaxed);
      std::fprintf(stderr, "\r%4ds  %lld requests  %lld/s  %lld errors   ", second,
                   static_cast<long long>(now), static_cast<long long>(now - last),
                   static_cast<long long>(progress.errors.load(std::memory_order_relaxed)));
      last = now;
    }
    if (show && last > 0) std::fprintf(stderr, "\n");
  }
  runner.join();
  if (!result.ok()) {
    std::fprintf(stderr, "client: %s\n", std::string(result.status().message()).c_str());
    return kExitFailure;
  }
  PrintBench(*result);
  if (!result->first_error.empty()) {
    std::fprintf(stderr, "client: first error: %s\n", result->first_error.c_str());
  }
  return result->errors == 0 && result->mismatches == 0 ? 0 : kExitFailure;
}

// Sends each message and prints each reply as it arrives. Error replies go to stderr and make
// the exit status 1; a network failure stops at once.
absl::StatusOr<std::unique_ptr<client::Client>> Connect() {
  return client::Client::Connect(FLAGS_host, FLAGS_port, absl::Milliseconds(FLAGS_timeout_ms),
                                 FLAGS_max_frame_bytes);
}

// One request; with --retries, sent again on a new connection if the server closed the
// connection before any byte of its reply (a drain, a restart).
absl::StatusOr<client::Client::Reply> CallWithRetries(std::unique_ptr<client::Client>& connection,
                                                      const std::string& request, int* retries) {
  absl::StatusOr<client::Client::Reply> reply = connection->Call(request);
  for (int left = FLAGS_retries; !reply.ok() && left > 0; --left) {
    if (!absl::IsUnavailable(reply.status()) || connection->reply_started()) break;
    absl::StatusOr<std::unique_ptr<client::Client>> again = Connect();
    if (!again.ok()) return again.status();
    connection = std::move(*again);
    ++*retries;
    reply = connection->Call(request);
  }
  return reply;
}

int RunQueries(std::unique_ptr<client::Client> connection, const std::vector<std::string>* messages) {
  int exit_code = 0;
  int retries = 0;
  std::string line;
  size_t next = 0;
  while (true) {
    if (messages != nullptr) {
      if (next == messages->size()) break;
      line = (*messages)[next++];
    } else if (!std::getline(std::cin, line)) {
      break;
    }
    absl::StatusOr<client::Client::Reply> reply = CallWithRetries(connection, line, &retries);
    if (!reply.ok()) {
      std::fprintf(stderr, "client: %s\n", std::string(reply.status().message()).c_str());
      return kExitFailure;
    }
    if (reply->is_error) {
      std::fprintf(stderr, "error reply: %s\n", reply->payload.c_str());
      exit_code = kExitFailure;
      continue;
    }
    std::fwrite(reply->payload.data(), 1, reply->payload.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  if (retries > 0) std::fprintf(stderr, "client: %d requests sent again after a close\n", retries);
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> messages = common::ParseCommandLine(
      argc, argv,
      "Sends frames to the server and prints the replies.\n\n"
      "Usage: client [--host=H] [--port=N] [MESSAGE ...]   one frame per MESSAGE\n"
      "       client [--host=H] [--port=N] < lines          one frame per stdin line\n"
      "       client --bench [--connections=N --pipeline=N --requests=N|--duration_s=S ...]");
  if (FLAGS_port < 1 || FLAGS_port > 65535) common::UsageError("--port must be in 1..65535");
  if (FLAGS_timeout_ms < 1) common::UsageError("--timeout_ms must be positive");
  if (FLAGS_bench) {
    if (!messages.empty()) common::UsageError("--bench takes no MESSAGE arguments");
    return RunBenchMode();
  }
  absl::StatusOr<std::unique_ptr<client::Client>> connection = Connect();
  if (!connection.ok()) {
    std::fprintf(stderr, "client: %s\n", std::string(connection.status().message()).c_str());
    return kExitFailure;
  }
  return RunQueries(std::move(*connection), messages.empty() ? nullptr : &messages);
}
