#include "client/bench_thread.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/kv_workload.h"
#include "common/clock.h"
#include "protocol/frame.h"

namespace client {
namespace {

using common::MonotonicNanos;

// Throttled (--rate), a thread wakes this often to send what the rate allows by then.
constexpr int64_t kThrottleTickNs = 1'000'000;
// Unthrottled, it checks this often for replies overdue past --timeout_ms.
constexpr int64_t kStallCheckNs = 100'000'000;

}  // namespace

void BenchConnection::OnEvents(uint32_t events) { thread->OnEvents(this, events); }

BenchThread::BenchThread(const BenchOptions& options, std::shared_ptr<const FixedRequest> fixed,
                         int64_t requests, double rate, BenchProgress* progress)
    : options_(options),
      requests_per_ns_(rate / 1e9),
      fixed_(std::move(fixed)),
      remaining_(requests),
      progress_(progress),
      read_buffer_(256 << 10, '\0') {}

absl::Status BenchThread::Connect(int count, int first) {
  if (absl::Status status = loop_.Init(); !status.ok()) return status;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect(options_.host, options_.port, options_.timeout, options_.max_frame_bytes,
                        options_.tls);
    if (!client.ok()) return client.status();
    auto c = std::make_unique<BenchConnection>(this, options_.max_frame_bytes);
    c->client = std::move(*client);
    c->retries_left = options_.retries;
    c->reopens_left = options_.retries;
    if (options_.kv_mix.has_value()) {
      c->workload = std::make_unique<KvWorkload>(*options_.kv_mix, options_.keys, first + i,
                                                 options_.connections, options_.payload_bytes,
                                                 /*seed=*/first + i + 1, options_.protocol);
    } else {
      c->workload = std::make_unique<FixedWorkload>(fixed_);
    }
    if (absl::Status status = loop_.poller().Set(c->client->fd(), EPOLLIN, c.get(), false);
        !status.ok()) {
      return status;
    }
    connections_.push_back(std::move(c));
  }
  return absl::OkStatus();
}

void BenchThread::Run(int64_t stop_at_ns) {
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

void BenchThread::OnEvents(BenchConnection* c, uint32_t events) {
  if (c->dead) return;
  if (events & EPOLLOUT) Write(c);
  if (!c->dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
    Read(c, loop_.now_ns());
    // What OpenSSL read ahead gets no readiness event of its own (tls/stream.h).
    while (!c->dead && c->client->tls() != nullptr && c->client->tls()->pending()) {
      Read(c, loop_.now_ns());
    }
  }
}

void BenchThread::AddTo(BenchResult* result) const {
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

bool BenchThread::MoreToSend(int64_t now) const {
  return options_.requests > 0 ? remaining_ > 0 : now < stop_at_ns_;
}

bool BenchThread::MaySend(int64_t now) const {
  if (!MoreToSend(now)) return false;
  return requests_per_ns_ == 0 ||
         sent_ < static_cast<int64_t>((now - start_ns_) * requests_per_ns_) + 1;
}

void BenchThread::Refill(BenchConnection* c, int64_t now) {
  while (static_cast<int>(c->sent_at.size()) < options_.pipeline && MaySend(now)) {
    c->workload->Next(&c->output);
    c->sent_at.push_back(now);
    ++sent_;
    --remaining_;
    ++in_flight_;
  }
  Write(c);
}

void BenchThread::Write(BenchConnection* c) {
  if (!c->output.empty()) {
    const ssize_t n = c->client->WriteSome(c->output.data(), c->output.size());
    if (n > 0) {
      c->output.Consume(n);
    } else if (errno != EAGAIN && errno != EINTR) {
      // A reset on send is the same news as a reset on read (e.g. a reuse_port listener
      // closed with this connection still in its accept queue): resend if no reply began.
      if ((errno == ECONNRESET || errno == EPIPE) && MayResend(c)) {
        Reconnect(c, loop_.now_ns());
        return;
      }
      Fail(c, absl::StrCat("send to ", c->client->address(), ": ", c->client->IoError()));
      return;
    }
  }
  const bool want_write = !c->output.empty();
  if (want_write != c->want_write) {
    (void)loop_.poller().Set(c->client->fd(), EPOLLIN | (want_write ? EPOLLOUT : 0), c, true);
    c->want_write = want_write;
  }
}

void BenchThread::Read(BenchConnection* c, int64_t now) {
  const ssize_t n = c->client->ReadSome(read_buffer_.data(), read_buffer_.size());
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    const bool closed = n == 0 || errno == ECONNRESET;
    if (closed && MayResend(c)) {
      Reconnect(c, now);  // no byte of the pending replies came: send them again
      return;
    }
    Fail(c, n == 0 ? absl::StrCat(c->client->address(), " closed the connection")
                   : absl::StrCat("read from ", c->client->address(), ": ", c->client->IoError()));
    return;
  }
  c->retries_left = options_.retries;  // progress: the budget is per request
  const bool resp = options_.protocol == Protocol::kResp;
  if (resp) {
    c->resp.Feed(absl::string_view(read_buffer_.data(), n));
  } else {
    c->decoder.Feed(absl::string_view(read_buffer_.data(), n));
  }
  int replies = 0;
  while (true) {
    absl::StatusOr<std::optional<protocol::Frame>> frame = resp ? c->resp.Next() : c->decoder.Next();
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
    const bool as_expected = c->workload->Check(**frame);
    if ((*frame)->kind == protocol::FrameKind::kError) {
      ++errors_;
      if (first_error_.empty()) first_error_ = std::string((*frame)->payload);
    } else if (options_.verify != Verify::kNone && !as_expected) {
      ++mismatches_;
    }
  }
  if (resp) {
    c->resp.Retain();
  } else {
    c->decoder.Retain();
  }
  if (progress_ != nullptr && replies > 0) {
    progress_->requests.fetch_add(replies, std::memory_order_relaxed);
  }
  Refill(c, now);
}

void BenchThread::CheckStalled(int64_t now) {
  for (auto& c : connections_) {
    if (!c->dead && !c->sent_at.empty() &&
        now - c->sent_at.front() > absl::ToInt64Nanoseconds(options_.timeout)) {
      Fail(c.get(), absl::StrCat("no reply from ", c->client->address(), " within ",
                                 absl::FormatDuration(options_.timeout)));
    }
  }
}

bool BenchThread::MayResend(const BenchConnection* c) const {
  return c->decoder.buffered_bytes() == 0 && c->resp.buffered_bytes() == 0 && c->retries_left > 0;
}

void BenchThread::Reconnect(BenchConnection* c, int64_t now) {
  loop_.poller().Remove(c->client->fd());
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(options_.host, options_.port, options_.timeout, options_.max_frame_bytes,
                      options_.tls);
  if (!client.ok()) {
    Fail(c, std::string(client.status().message()));
    return;
  }
  --c->retries_left;
  ++reconnects_;
  c->client = std::move(*client);
  c->decoder = protocol::FrameDecoder({.max_frame_bytes = options_.max_frame_bytes,
                                       .allow_error_frames = true});
  c->resp = RespReplyDecoder(options_.max_frame_bytes);
  c->output.Clear();
  c->want_write = false;
  c->workload->Resend(&c->output);
  retries_ += static_cast<int64_t>(c->sent_at.size());
  if (absl::Status status = loop_.poller().Set(c->client->fd(), EPOLLIN, c, false); !status.ok()) {
    Fail(c, std::string(status.message()));
    return;
  }
  Refill(c, now);
}

void BenchThread::Fail(BenchConnection* c, std::string message) {
  if (first_error_.empty()) first_error_ = std::move(message);
  errors_ += 1 + static_cast<int64_t>(c->sent_at.size());
  if (progress_ != nullptr) progress_->errors.fetch_add(1, std::memory_order_relaxed);
  in_flight_ -= static_cast<int64_t>(c->sent_at.size());
  c->sent_at.clear();
  c->workload->Abandon();
  c->dead = true;
  loop_.poller().Remove(c->client->fd());
  if (c->reopens_left > 0) {  // --retries: a broken connection is opened again
    --c->reopens_left;
    c->dead = false;
    Reconnect(c, loop_.now_ns());
    c->retries_left = options_.retries;
  }
}

}  // namespace client
