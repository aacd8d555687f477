#include "server/admin/metrics.h"

#include <atomic>
#include <cmath>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace server {
namespace {

constexpr char kPrefix[] = "tcp_server_";

// A label value, escaped as the format requires.
std::string Quote(absl::string_view value) {
  return absl::StrCat("\"", absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}),
                      "\"");
}

// Integers as integers (counters stay exact), the rest with enough digits.
std::string Number(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrFormat("%.10g", value);
}

class Page {
 public:
  void Family(absl::string_view name, absl::string_view type, absl::string_view help) {
    absl::StrAppend(&text_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  void Sample(absl::string_view name, absl::string_view labels, double value) {
    absl::StrAppend(&text_, name, labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}",
                    " ", Number(value), "\n");
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

// A per-worker counter of WorkerStats, and how it is published.
struct WorkerCounter {
  const char* name;  // without prefix and _total
  const char* help;
  Counter WorkerStats::*counter;
};

constexpr WorkerCounter kWorkerCounters[] = {
    {"frames_in", "Request frames taken from clients.", &WorkerStats::frames_in},
    {"frames_out", "Reply frames queued for sending.", &WorkerStats::frames_out},
    {"bytes_in", "Bytes read from clients, headers included.", &WorkerStats::bytes_in},
    {"bytes_out", "Bytes written to clients, headers included.", &WorkerStats::bytes_out},
    {"handler_errors", "Requests answered with an error reply.", &WorkerStats::handler_errors},
    {"handler_misuse", "Requests a handler answered two ways, or dropped unanswered.",
     &WorkerStats::handler_misuse},
    {"reads_paused", "Times reading a connection paused for backpressure.", &WorkerStats::reads_paused},
    {"reads_paused_memory", "Times reading a connection paused: --max_buffer_memory reached.",
     &WorkerStats::reads_paused_memory},
    {"fairness_yields", "Times a connection yielded after --max_frames_per_batch frames.",
     &WorkerStats::fairness_yields},
    {"requests_answered_later", "Requests deferred or run on handler threads.",
     &WorkerStats::requests_later},
    {"requests_rejected_overload", "Requests refused: the handler queue was full.",
     &WorkerStats::requests_overloaded},
    {"requests_timed_out", "Requests answered DEADLINE_EXCEEDED.", &WorkerStats::handler_timeouts},
    {"replies_discarded", "Answers never sent (late, or their connection closed).",
     &WorkerStats::replies_discarded},
};


// Histogram samples of `buckets` (non-cumulative counts) under `labels`.
void Histogram(Page& page, const std::string& name, const std::string& labels,
               const LatencyBuckets& buckets) {
  const auto counts = buckets.Counts();
  uint64_t cumulative = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    cumulative += counts[b];
    const std::string le = b < LatencyBuckets::kBoundsSeconds.size()
                               ? absl::StrFormat("%g", LatencyBuckets::kBoundsSeconds[b])
                               : "+Inf";
    page.Sample(name + "_bucket", absl::StrCat(labels, ",le=\"", le, "\""),
                static_cast<double>(cumulative));
  }
  page.Sample(name + "_sum", labels, buckets.SumSeconds());
  page.Sample(name + "_count", labels, static_cast<double>(cumulative));
}

// Per upstream and backend (server/upstream/upstream_config.h), summed over the workers.
void UpstreamFamilies(Page& page, const std::string& p, const upstream::Upstreams& upstreams) {
  using upstream::BackendCounters;
  using upstream::UpstreamCounters;
  auto value = [](const std::atomic<int64_t>& v) {
    return static_cast<double>(v.load(std::memory_order_relaxed));
  };
  const std::string u = p + "upstream_";
  struct PerUpstream {
    const char* name;
    const char* type;
    const char* help;
    std::atomic<int64_t> UpstreamCounters::*counter;
  };
  for (const PerUpstream& f : {
           PerUpstream{"calls_total", "counter", "Calls made by handlers.", &UpstreamCounters::calls},
           PerUpstream{"retries_total", "counter", "Calls sent again to another backend.",
                       &UpstreamCounters::retries},
           PerUpstream{"retries_refused_total", "counter",
                       "Retries the retry budget refused (the call failed instead).",
                       &UpstreamCounters::retries_refused},
           PerUpstream{"unavailable_total", "counter",
                       "Calls answered UNAVAILABLE (no backend, or the connection failed).",
                       &UpstreamCounters::unavailable},
           PerUpstream{"timeouts_total", "counter", "Calls answered DEADLINE_EXCEEDED.",
                       &UpstreamCounters::timeouts},
           PerUpstream{"resolve_failures_total", "counter",
                       "Times a backend's name did not resolve again (its last address kept).",
                       &UpstreamCounters::resolve_failures}}) {
    page.Family(u + f.name, f.type, f.help);
    for (size_t i = 0; i < upstreams.size(); ++i) {
      const upstream::UpstreamConfig& config = upstreams.config(i);
      page.Sample(u + f.name, absl::StrCat("upstream=", Quote(config.options().name)),
                  value(config.counters().*f.counter));
    }
  }
  struct PerBackend {
    const char* name;
    const char* type;
    const char* help;
    std::atomic<int64_t> BackendCounters::*counter;
  };
  auto for_each_backend = [&](const std::function<void(const std::string& labels,
                                                       const BackendCounters&)>& f) {
    for (size_t i = 0; i < upstreams.size(); ++i) {
      const upstream::UpstreamConfig& config = upstreams.config(i);
      for (const upstream::UpstreamConfig::Backend& b : config.backends()) {
        f(absl::StrCat("upstream=", Quote(config.options().name), ",backend=", Quote(b.name)),
          *b.counters);
      }
    }
  };
  for (const PerBackend& f : {
           PerBackend{"backend_calls_total", "counter", "Attempts sent to the backend.",
                      &BackendCounters::calls},
           PerBackend{"backend_replies_total", "counter", "Replies from the backend in time.",
                      &BackendCounters::replies},
           PerBackend{"backend_late_replies_total", "counter",
                      "Replies that came after their call's deadline (discarded).",
                      &BackendCounters::late_replies},
           PerBackend{"backend_ejections_total", "counter",
                      "Times the backend was ejected after consecutive failures.",
                      &BackendCounters::ejections},
           PerBackend{"backend_connections", "gauge", "Connections open or connecting to it.",
                      &BackendCounters::open_connections},
           PerBackend{"backend_in_flight", "gauge", "Calls sent to it, not yet answered.",
                      &BackendCounters::in_flight}}) {
    page.Family(u + f.name, f.type, f.help);
    for_each_backend([&](const std::string& labels, const BackendCounters& c) {
      page.Sample(u + f.name, labels, value(c.*f.counter));
    });
  }
  page.Family(u + "backend_errors_total", "counter", "Failures of the backend, by kind.");
  for_each_backend([&](const std::string& labels, const BackendCounters& c) {
    for (const auto& [kind, counter] :
         {std::pair{"connect", &c.errors_connect}, std::pair{"reset", &c.errors_reset},
          std::pair{"bad_reply", &c.errors_bad_reply}, std::pair{"timeout", &c.errors_timeout}}) {
      page.Sample(u + "backend_errors_total", absl::StrCat(labels, ",kind=\"", kind, "\""),
                  value(*counter));
    }
  });
  page.Family(u + "backend_health_checks_total", "counter",
              "Active health checks (health_check_every), by result: ok (answered) or failed.");
  for_each_backend([&](const std::string& labels, const BackendCounters& c) {
    for (const auto& [result, counter] :
         {std::pair{"ok", &c.health_checks_ok}, std::pair{"failed", &c.health_checks_failed}}) {
      page.Sample(u + "backend_health_checks_total",
                  absl::StrCat(labels, ",result=\"", result, "\""), value(*counter));
    }
  });
  page.Family(u + "backend_latency_seconds", "histogram",
              "From sending a call to its reply, per backend.");
  for_each_backend([&](const std::string& labels, const BackendCounters& c) {
    Histogram(page, u + "backend_latency_seconds", labels, c.latency);
  });
}

}  // namespace

std::string PrometheusText(const ServerStats& stats, const ServerInfo& info,
                           const ProcessStats& process, const upstream::Upstreams* upstreams) {
  Page page;
  const std::string p = kPrefix;
  auto worker_label = [](int i) { return absl::StrCat("worker=\"", i, "\""); };

  page.Family(p + "build_info", "gauge", "Always 1; the labels say which build this is.");
  page.Sample(p + "build_info", absl::StrCat("version=", Quote(info.version)), 1);
  std::string config;
  for (const auto& [key, value] : info.config) {
    absl::StrAppend(&config, config.empty() ? "" : ",", key, "=", Quote(value));
  }
  page.Family(p + "config_info", "gauge", "Always 1; the labels are the serving configuration.");
  page.Sample(p + "config_info", config, 1);
  page.Family(p + "limit", "gauge", "Configured limits, by name.");
  for (const auto& [name, value] : info.limits) {
    page.Sample(p + "limit", absl::StrCat("name=", Quote(name)), static_cast<double>(value));
  }

  page.Family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.");
  page.Sample("process_start_time_seconds", "", info.start_time_seconds);
  page.Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  page.Sample("process_resident_memory_bytes", "", static_cast<double>(process.resident_bytes));
  page.Family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
  page.Sample("process_cpu_seconds_total", "", process.cpu_seconds);
  page.Family("process_open_fds", "gauge", "Open file descriptors.");
  page.Sample("process_open_fds", "", static_cast<double>(process.open_fds));

  const AcceptorStats& acceptor = stats.acceptor();
  page.Family(p + "connections_accepted_total", "counter", "Connections accepted.");
  page.Sample(p + "connections_accepted_total", "", acceptor.accepted.value());
  page.Family(p + "connections_rejected_total", "counter",
              "Connections refused at --max_connections.");
  page.Sample(p + "connections_rejected_total", "", acceptor.rejected_limit.value());
  page.Family(p + "accept_pauses_total", "counter", "Times accepting paused: out of descriptors.");
  page.Sample(p + "accept_pauses_total", "", acceptor.accept_pauses.value());
  page.Family(p + "connections_peak", "gauge", "The most connections open at once since start-up.");
  page.Sample(p + "connections_peak", "", acceptor.peak_connections.value());

  page.Family(p + "connections_active", "gauge", "Open connections.");
  for (int i = 0; i < stats.workers(); ++i) {
    page.Sample(p + "connections_active", worker_label(i), stats.worker(i).active_connections.value());
  }
  page.Family(p + "connections_closed_total", "counter", "Connections the server closed, by reason.");
  for (int i = 0; i < stats.workers(); ++i) {
    const WorkerStats& w = stats.worker(i);
    for (const auto& [reason, counter] :
         {std::pair{"idle_timeout", &w.closed_idle_timeout},
          std::pair{"frame_timeout", &w.closed_frame_timeout},
          std::pair{"protocol_error", &w.closed_protocol_error},
          std::pair{"memory_budget", &w.closed_memory_budget},
          std::pair{"no_memory", &w.closed_no_memory}}) {
      page.Sample(p + "connections_closed_total",
                  absl::StrCat(worker_label(i), ",reason=\"", reason, "\""), counter->value());
    }
  }
  page.Family(p + "tls_handshakes_total", "counter", "TLS handshakes, by result.");
  for (int i = 0; i < stats.workers(); ++i) {
    const WorkerStats& w = stats.worker(i);
    for (const auto& [result, counter] :
         {std::pair{"ok", &w.tls_handshakes},
          std::pair{"no_certificate", &w.tls_failed_no_certificate},
          std::pair{"bad_certificate", &w.tls_failed_bad_certificate},
          std::pair{"protocol", &w.tls_failed_protocol},
          std::pair{"aborted", &w.tls_failed_aborted}}) {
      page.Sample(p + "tls_handshakes_total",
                  absl::StrCat(worker_label(i), ",result=\"", result, "\""), counter->value());
    }
  }
  for (const WorkerCounter& c : kWorkerCounters) {
    const std::string name = absl::StrCat(p, c.name, "_total");
    page.Family(name, "counter", c.help);
    for (int i = 0; i < stats.workers(); ++i) {
      page.Sample(name, worker_label(i), (stats.worker(i).*c.counter).value());
    }
  }
  page.Family(p + "buffer_memory_bytes", "gauge",
              "Bytes held for connections (partial input, replies, queued requests).");
  page.Sample(p + "buffer_memory_bytes", "", stats.buffer_memory().used());
  page.Family(p + "pending_output_bytes_max", "gauge",
              "Largest unsent reply backlog of any connection now.");
  for (int i = 0; i < stats.workers(); ++i) {
    page.Sample(p + "pending_output_bytes_max", worker_label(i),
                stats.worker(i).pending_output_max.value());
  }

  const std::string latency = p + "request_latency_seconds";
  page.Family(latency, "histogram",
              "Time from the read of a request to the write of its reply (docs/stats.md).");
  for (int i = 0; i < stats.workers(); ++i) {
    Histogram(page, latency, worker_label(i), stats.worker(i).latency_buckets);
  }

  for (const bool gauges : {false, true}) {
    const std::string family = p + (gauges ? "handler_gauge" : "handler_events_total");
    page.Family(family, gauges ? "gauge" : "counter",
                gauges ? "Gauges registered by handlers." : "Counters registered by handlers.");
    stats.handler_counters().ForEach(
        [&](const std::string& handler, const std::string& name, int64_t value) {
          page.Sample(family, absl::StrCat("handler=", Quote(handler), ",name=", Quote(name)),
                      static_cast<double>(value));
        },
        gauges);
  }
  if (upstreams != nullptr && upstreams->size() > 0) UpstreamFamilies(page, p, *upstreams);
  return page.Take();
}

}  // namespace server
