#include "client/bench.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "protocol/buffer.h"
#include "protocol/frame.h"
#include "absl/strings/ascii.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "protocol/frame_decoder.h"

namespace client {
namespace {

using common::MonotonicNanos;

// Throttled (--rate), a thread wakes this often to send what the rate allows by then.
constexpr int64_t kThrottleTickNs = 1'000'000;
// Unthrottled, it checks this often for replies overdue past --timeout_ms.
constexpr int64_t kStallCheckNs = 100'000'000;

class BenchThread;

struct BenchConnection : public common::Watcher {
  BenchConnection(BenchThread* thread, uint32_t max_frame_bytes)
      : thread(thread), decoder({.max_frame_bytes = max_frame_bytes, .allow_error_frames = true}) {}
  void OnEvents(uint32_t events) override;

  BenchThread* const thread;
  std::unique_ptr<Client> client;  // owns the socket; used here only for its fd
  std::unique_ptr<KvWorkload> kv;  // --kv_mix: this connection's requests and their model
  protocol::FrameDecoder decoder;
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
  BenchThread(const BenchOptions& options, std::string request, std::string expected,
              int64_t requests, double rate, BenchProgress* progress)
      : options_(options),
        requests_per_ns_(rate / 1e9),
        request_frame_(),
        expected_(std::move(expected)),
        remaining_(requests),
        progress_(progress),
        read_buffer_(256 << 10, '\0') {
    protocol::AppendFrame(request, &request_frame_);
  }

  // Opens `count` connections, numbered from `first` among all threads' (for --kv_mix keys).
  absl::Status Connect(int count, int first) {
    if (absl::Status status = loop_.Init(); !status.ok()) return status;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<std::unique_ptr<Client>> client =
          Client::Connect(options_.host, options_.port, options_.timeout);
      if (!client.ok()) return client.status();
      auto c = std::make_unique<BenchConnection>(this, options_.max_frame_bytes);
      c->client = std::move(*client);
      c->retries_left = options_.retries;
      c->reopens_left = options_.retries;
      if (options_.kv_mix.has_value()) {
        c->kv = std::make_unique<KvWorkload>(*options_.kv_mix, options_.keys, first + i,
                                             options_.connections, options_.payload_bytes,
                                             /*seed=*/first + i + 1);
      }
      if (absl::Status status = loop_.poller().Set(c->client->fd(), EPOLLIN, c.get(), false);
          !status.ok()) {
        return status;
      }
      connections_.push_back(std::move(c));
    }
    return absl::OkStatus();
  }

  void Run(int64_t stop_at_ns) {
    stop_at_ns_ = stop_at_ns;
    const int64_t start = start_ns_ = MonotonicNanos();
    for (auto& c : connections_) Refill(c.get(), start);
    const bool throttled = requests_per_ns_ > 0;
    loop_.Run([&](int64_t now, int events) {
      if (throttled) {
        for (auto& c : connections_) {
          if (!c->dead) Refill(c.get(), now);
        }
      }
      if (events == 0) CheckStalled(now);
      if (in_flight_ == 0 && !(throttled && MoreToSend(now))) loop_.Quit();
      // Throttled, wake every millisecond to send what the rate allows by then.
      return now + (throttled ? kThrottleTickNs : kStallCheckNs);
    });
    elapsed_ = absl::Nanoseconds(MonotonicNanos() - start);
  }

  void OnEvents(BenchConnection* c, uint32_t events) {
    if (c->dead) return;
    if (events & EPOLLOUT) Write(c);
    if (!c->dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) Read(c, loop_.now_ns());
  }

  void AddTo(BenchResult* result) const {
    result->requests += done_;
    result->errors += errors_;
    result->mismatches += mismatches_;
    result->retries += retries_;
    result->reconnects += reconnects_;
    result->bytes += bytes_;
    result->latency.Merge(latency_.TakeSnapshot());
    result->elapsed = std::max(result->elapsed, elapsed_);
    if (result->first_error.empty()) result->first_error = first_error_;
  }

 private:
  bool MoreToSend(int64_t now) const {
    return options_.requests > 0 ? remaining_ > 0 : now < stop_at_ns_;
  }

  bool MaySend(int64_t now) const {
    if (!MoreToSend(now)) return false;
    return requests_per_ns_ == 0 ||
           sent_ < static_cast<int64_t>((now - start_ns_) * requests_per_ns_) + 1;
  }

  // Tops the connection up to `pipeline` requests in flight and writes them in one call.
  void Refill(BenchConnection* c, int64_t now) {
    while (static_cast<int>(c->sent_at.size()) < options_.pipeline && MaySend(now)) {
      if (c->kv != nullptr) {
        c->kv->Next(&c->output);
      } else {
        c->output.Append(request_frame_.view());
      }
      c->sent_at.push_back(now);
      ++sent_;
      --remaining_;
      ++in_flight_;
    }
    Write(c);
  }

  void Write(BenchConnection* c) {
    if (!c->output.empty()) {
      const ssize_t n = send(c->client->fd(), c->output.data(), c->output.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c->output.Consume(n);
      } else if (errno != EAGAIN && errno != EINTR) {
        // A reset on send is the same news as a reset on read (e.g. a reuse_port listener
        // closed with this connection still in its accept queue): resend if no reply began.
        if ((errno == ECONNRESET || errno == EPIPE) && MayResend(c)) {
          Reconnect(c, loop_.now_ns());
          return;
        }
        Fail(c, absl::StrCat("send to ", c->client->address(), ": ", std::strerror(errno)));
        return;
      }
    }
    const bool want_write = !c->output.empty();
    if (want_write != c->want_write) {
      (void)loop_.poller().Set(c->client->fd(), EPOLLIN | (want_write ? EPOLLOUT : 0), c, true);
      c->want_write = want_write;
    }
  }

  void Read(BenchConnection* c, int64_t now) {
    const ssize_t n = read(c->client->fd(), read_buffer_.data(), read_buffer_.size());
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      const bool closed = n == 0 || errno == ECONNRESET;
      if (closed && MayResend(c)) {
        Reconnect(c, now);  // no byte of the pending replies came: send them again
        return;
      }
      Fail(c, n == 0 ? absl::StrCat(c->client->address(), " closed the connection")
                     : absl::StrCat("read from ", c->client->address(), ": ", std::strerror(errno)));
      return;
    }
    c->retries_left = options_.retries;  // progress: the budget is per request
    c->decoder.Feed(absl::string_view(read_buffer_.data(), n));
    int replies = 0;
    while (true) {
      absl::StatusOr<std::optional<protocol::Frame>> frame = c->decoder.Next();
      if (!frame.ok()) {
        Fail(c, absl::StrCat("bad reply from ", c->client->address(), ": ", frame.status().message()));
        return;
      }
      if (!frame->has_value()) break;
      if (c->sent_at.empty()) {
        Fail(c, absl::StrCat("unexpected reply from ", c->client->address()));
        return;
      }
      latency_.Record(absl::Nanoseconds(now - c->sent_at.front()));
      c->sent_at.pop_front();
      --in_flight_;
      ++done_;
      ++replies;
      bytes_ += 2 * (*frame)->payload.size();
      const bool kv_ok = c->kv == nullptr || c->kv->Check(**frame);
      if ((*frame)->kind == protocol::FrameKind::kError) {
        ++errors_;
        if (first_error_.empty()) first_error_ = std::string((*frame)->payload);
      } else if (options_.verify == Verify::kKv ? !kv_ok
                 : options_.verify != Verify::kNone && (*frame)->payload != expected_) {
        ++mismatches_;
      }
    }
    c->decoder.Retain();
    if (progress_ != nullptr && replies > 0) {
      progress_->requests.fetch_add(replies, std::memory_order_relaxed);
    }
    Refill(c, now);
  }

  // Replies that never come count as errors once the timeout has passed with no progress.
  void CheckStalled(int64_t now) {
    for (auto& c : connections_) {
      if (!c->dead && !c->sent_at.empty() &&
          now - c->sent_at.front() > absl::ToInt64Nanoseconds(options_.timeout)) {
        Fail(c.get(), absl::StrCat("no reply from ", c->client->address(), " within ",
                                   absl::FormatDuration(options_.timeout)));
      }
    }
  }

  // Whether a connection the server closed may be reopened and its unanswered requests sent
  // again: --retries left, and no byte of a reply had come (a half-read reply cannot be resumed).
  bool MayResend(const BenchConnection* c) const {
    return c->decoder.buffered_bytes() == 0 && c->retries_left > 0;
  }

  // The server closed the connection with requests in flight whose replies had not begun: a
  // new connection, and those requests sent again (--retries).
  void Reconnect(BenchConnection* c, int64_t now) {
    loop_.poller().Remove(c->client->fd());
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect(options_.host, options_.port, options_.timeout, options_.max_frame_bytes);
    if (!client.ok()) {
      Fail(c, std::string(client.status().message()));
      return;
    }
    --c->retries_left;
    ++reconnects_;
    c->client = std::move(*client);
    c->decoder = protocol::FrameDecoder({.max_frame_bytes = options_.max_frame_bytes,
                                         .allow_error_frames = true});
    c->output.Clear();
    c->want_write = false;
    if (c->kv != nullptr) {
      c->kv->Resend(&c->output);
    } else {
      for (size_t i = 0; i < c->sent_at.size(); ++i) c->output.Append(request_frame_.view());
    }
    retries_ += static_cast<int64_t>(c->sent_at.size());
    if (absl::Status status = loop_.poller().Set(c->client->fd(), EPOLLIN, c, false); !status.ok()) {
      Fail(c, std::string(status.message()));
      return;
    }
    Refill(c, now);
  }

  void Fail(BenchConnection* c, std::string message) {
    if (first_error_.empty()) first_error_ = std::move(message);
    errors_ += 1 + static_cast<int64_t>(c->sent_at.size());
    if (progress_ != nullptr) progress_->errors.fetch_add(1, std::memory_order_relaxed);
    in_flight_ -= static_cast<int64_t>(c->sent_at.size());
    c->sent_at.clear();
    if (c->kv != nullptr) c->kv->Abandon();
    c->dead = true;
    loop_.poller().Remove(c->client->fd());
    if (c->reopens_left > 0) {  // --retries: a broken connection is opened again
      --c->reopens_left;
      c->dead = false;
      Reconnect(c, loop_.now_ns());
      c->retries_left = options_.retries;
    }
  }

  const BenchOptions& options_;
  const double requests_per_ns_;  // this thread's share of --rate; 0: as fast as possible
  protocol::Buffer request_frame_;
  const std::string expected_;
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

void BenchConnection::OnEvents(uint32_t events) { thread->OnEvents(this, events); }

std::string MakePayload(int size) {
  std::string payload(size, '\0');
  for (int i = 0; i < size; ++i) payload[i] = "abcdefghijklmnopqrstuvwxyz0123456789-"[i % 37];
  return payload;
}

std::string Expected(const std::string& payload, Verify verify) {
  return verify == Verify::kUppercase ? absl::AsciiStrToUpper(payload) : payload;
}

}  // namespace

absl::StatusOr<BenchResult> RunBench(const BenchOptions& options, BenchProgress* progress) {
  const int threads = std::max(1, std::min(options.threads, options.connections));
  const std::string payload =
      options.request.empty() ? MakePayload(options.payload_bytes) : options.request;
  const std::string expected = Expected(payload, options.verify);
  std::vector<std::unique_ptr<BenchThread>> workers;
  int first_connection = 0;
  for (int t = 0; t < threads; ++t) {
    // Spread connections and requests evenly; the first threads take the remainders.
    const int connections = options.connections / threads + (t < options.connections % threads);
    const int64_t requests = options.requests / threads + (t < options.requests % threads);
    workers.push_back(std::make_unique<BenchThread>(options, payload, expected, requests,
                                                    options.rate / threads, progress));
    if (absl::Status s = workers.back()->Connect(connections, first_connection); !s.ok()) {
      return s;
    }
    first_connection += connections;
  }
  const int64_t stop_at = MonotonicNanos() + absl::ToInt64Nanoseconds(options.duration);
  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([&w, stop_at] { w->Run(stop_at); });
  for (std::thread& t : running) t.join();
  BenchResult result;
  for (const auto& w : workers) w->AddTo(&result);
  return result;
}

}  // namespace client
