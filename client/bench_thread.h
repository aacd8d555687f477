// BenchThread: one thread's share of a bench run (bench.h): an epoll loop over its connections,
// each keeping `pipeline` requests of its Workload in flight, with pacing (--rate), stall
// detection (--timeout_ms) and resending on a new connection (--retries).
//
//   BenchThread thread(options, fixed_request, /*requests=*/0, /*rate=*/0, nullptr);
//   CHECK_OK(thread.Connect(10, /*first=*/0));
//   thread.Run(MonotonicNanos() + seconds);
//   thread.AddTo(&result);
//
// Not thread-safe: each runs on its own thread; AddTo() once Run() has returned.
#ifndef CLIENT_BENCH_THREAD_H_
#define CLIENT_BENCH_THREAD_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/bench.h"
#include "client/client.h"
#include "client/resp.h"
#include "client/workload.h"
#include "common/event_loop.h"
#include "common/latency_histogram.h"
#include "protocol/buffer.h"
#include "protocol/frame_decoder.h"

namespace client {

class BenchThread;

// One connection of a BenchThread: its socket, requests in flight and partial reply.
struct BenchConnection : public common::Watcher {
  BenchConnection(BenchThread* thread, uint32_t max_frame_bytes)
      : thread(thread),
        decoder({.max_frame_bytes = max_frame_bytes, .allow_error_frames = true}),
        resp(max_frame_bytes) {}
  void OnEvents(uint32_t events) override;

  BenchThread* const thread;
  std::unique_ptr<Client> client;  // owns the socket; used here only for its fd
  std::unique_ptr<Workload> workload;  // what this connection sends, and the replies it expects
  protocol::FrameDecoder decoder;  // replies, unless --protocol=resp
  RespReplyDecoder resp;           // replies with --protocol=resp
  protocol::Buffer output;
  std::deque<int64_t> sent_at;  // send time of each request in flight, oldest first
  int retries_left = 0;         // --retries left for the requests now in flight
  int reopens_left = 0;         // --retries left for opening this connection again after an error
  bool want_write = false;
  bool dead = false;
};

// One thread's share of the load.
class BenchThread {
 public:
  BenchThread(const BenchOptions& options, std::shared_ptr<const FixedRequest> fixed,
              int64_t requests, double rate, BenchProgress* progress);

  // Opens `count` connections, numbered from `first` among all threads' (for --kv_mix keys).
  absl::Status Connect(int count, int first);
  // Sends and reads until `stop_at_ns` (or --requests are done) and every reply is in.
  void Run(int64_t stop_at_ns);
  // Adds this thread's counts and latencies to `result`.
  void AddTo(BenchResult* result) const;
  // The loop's events for connection `c`.

  void OnEvents(BenchConnection* c, uint32_t events);

 private:
  bool MoreToSend(int64_t now) const;
  bool MaySend(int64_t now) const;

  // Tops the connection up to `pipeline` requests in flight and writes them in one call.
  void Refill(BenchConnection* c, int64_t now);

  void Write(BenchConnection* c);
  void Read(BenchConnection* c, int64_t now);

  // Replies that never come count as errors once the timeout has passed with no progress.
  void CheckStalled(int64_t now);

  // Whether a connection the server closed may be reopened and its unanswered requests sent
  // again: --retries left, and no byte of a reply had come (a half-read reply cannot be resumed).
  bool MayResend(const BenchConnection* c) const;

  // The server closed the connection with requests in flight whose replies had not begun: a
  // new connection, and those requests sent again (--retries).
  void Reconnect(BenchConnection* c, int64_t now);

  void Fail(BenchConnection* c, std::string message);

  const BenchOptions& options_;
  const double requests_per_ns_;  // this thread's share of --rate; 0: as fast as possible
  const std::shared_ptr<const FixedRequest> fixed_;  // without --kv_mix, every request
  int64_t remaining_;
  BenchProgress* progress_;
  std::string read_buffer_;
  std::vector<std::unique_ptr<BenchConnection>> connections_;
  common::EventLoop loop_;
  int64_t stop_at_ns_ = 0;
  int64_t start_ns_ = 0;
  int64_t sent_ = 0;
  int64_t in_flight_ = 0;
  int64_t done_ = 0, errors_ = 0, mismatches_ = 0, bytes_ = 0, retries_ = 0, reconnects_ = 0;
  common::LatencyHistogram latency_;
  absl::Duration elapsed_;
  std::string first_error_;

};

}  // namespace client

#endif  // CLIENT_BENCH_THREAD_H_
