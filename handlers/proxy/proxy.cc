// The proxy handler: forwards each frame to one of --proxy_backends and returns its reply, in
// the client's order, through the worker's own upstream pool (handlers/upstream.h): many
// clients' requests share a few pipelined backend connections, and no thread waits.
//
//   server --handler=proxy --proxy_backends=127.0.0.1:7001,127.0.0.1:7002 \
//          --proxy_balance=hash --proxy_hash=kv_key --proxy_retry=reads
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/stable_hash.h"
#include "gflags/gflags.h"
#include "handlers/registry.h"
#include "handlers/service.h"
#include "handlers/upstream.h"

DEFINE_string(proxy_backends, "",
              "proxy handler: the backends, HOST:PORT,... (IP literals or names resolved at "
              "start).");
DEFINE_string(proxy_balance, "round_robin",
              "proxy handler: round_robin, least_request (the less busy of two at random) or "
              "hash (by --proxy_hash: the same key goes to the same backend).");
DEFINE_string(proxy_hash, "payload",
              "proxy handler with --proxy_balance=hash: what is hashed: payload (the whole "
              "frame) or kv_key (its second space-separated word: SET k v and GET k meet).");
DEFINE_int64(proxy_timeout_ms, 1000,
             "proxy handler: each request's deadline, retries included (1..600000 ms).");
DEFINE_string(proxy_retry, "reads",
              "proxy handler: which requests are sent again to another backend when theirs "
              "fails: none, reads (frames whose first word is GET) or all.");
DEFINE_int32(proxy_connections, 2,
             "proxy handler: connections per backend and worker (1..64).");
DEFINE_int64(proxy_health_check_ms, 0,
             "proxy handler: send --proxy_health_check_request to each backend this often, "
             "ejected or not (0: no active checks, passive health only; else 10..3600000). "
             "Any reply takes an ejected backend back at once.");
DEFINE_string(proxy_health_check_request, "PING",
              "proxy handler: the frame a health check sends (any reply counts, an error "
              "reply too).");
DEFINE_bool(proxy_tls, false, "proxy handler: TLS to the backends (docs/tls.md).");
DEFINE_string(proxy_tls_ca, "",
              "proxy handler with --proxy_tls: the CAs that may sign the backends' certificates "
              "(PEM; empty: the system's).");
DEFINE_string(proxy_tls_cert, "",
              "proxy handler with --proxy_tls: this server's certificate for mutual TLS (PEM).");
DEFINE_string(proxy_tls_key, "", "proxy handler with --proxy_tls: the key of --proxy_tls_cert.");
DEFINE_string(proxy_tls_server_name, "",
              "proxy handler with --proxy_tls: the name the backends' certificates must carry, "
              "sent as SNI (empty: not checked).");

namespace handlers {
namespace {

enum class Retry { kNone, kReads, kAll };
enum class HashBy { kPayload, kKvKey };

// The second space-separated word, or the whole frame if it has none.
absl::string_view KvKey(absl::string_view frame) {
  const size_t first = frame.find(' ');
  if (first == absl::string_view::npos) return frame;
  absl::string_view rest = frame.substr(first + 1);
  return rest.substr(0, rest.find(' '));
}

class ProxyHandler : public Handler {
 public:
  ProxyHandler(Upstream* backends, Retry retry, HashBy hash, bool hashed, absl::Duration timeout,
               uint64_t connection)
      : backends_(backends),
        retry_(retry),
        hash_(hash),
        hashed_(hashed),
        timeout_(timeout),
        connection_(connection) {}

  absl::Status Handle(absl::string_view request, Reply& reply) override {
    // A client's pipelined frames go together: their replies come back in one piece.
    CallOptions options{.timeout = timeout_, .batch = connection_};
    options.retryable = retry_ == Retry::kAll ||
                        (retry_ == Retry::kReads && absl::StartsWith(request, "GET"));
    if (hashed_) {
      options.hash_key = common::StableHash(hash_ == HashBy::kKvKey ? KvKey(request) : request);
    }
    backends_->Call(request, options, [done = reply.Defer()](absl::StatusOr<std::string> answer)
                                          mutable {
      if (answer.ok()) return done.Finish(*std::move(answer));
      done.Fail(answer.status());
    });
    return absl::OkStatus();
  }

 private:
  Upstream* const backends_;
  const Retry retry_;
  const HashBy hash_;
  const bool hashed_;
  const absl::Duration timeout_;
  const uint64_t connection_;
};

class ProxyService : public Service {
 public:
  absl::Status Start(StartContext& context) override {
    if (FLAGS_proxy_backends.empty()) {
      return absl::InvalidArgumentError("--proxy_backends: the proxy handler needs backends");
    }
    if (FLAGS_proxy_timeout_ms < 1 || FLAGS_proxy_timeout_ms > 600000) {
      return absl::InvalidArgumentError("--proxy_timeout_ms must be in 1..600000");
    }
    if (FLAGS_proxy_connections < 1 || FLAGS_proxy_connections > 64) {
      return absl::InvalidArgumentError("--proxy_connections must be in 1..64");
    }
    if (FLAGS_proxy_health_check_ms != 0 &&
        (FLAGS_proxy_health_check_ms < 10 || FLAGS_proxy_health_check_ms > 3600000)) {
      return absl::InvalidArgumentError("--proxy_health_check_ms must be 0 or in 10..3600000");
    }
    if (FLAGS_proxy_retry == "none") {
      retry_ = Retry::kNone;
    } else if (FLAGS_proxy_retry == "reads") {
      retry_ = Retry::kReads;
    } else if (FLAGS_proxy_retry == "all") {
      retry_ = Retry::kAll;
    } else {
      return absl::InvalidArgumentError("--proxy_retry must be none, reads or all");
    }
    if (FLAGS_proxy_hash == "payload") {
      hash_ = HashBy::kPayload;
    } else if (FLAGS_proxy_hash == "kv_key") {
      hash_ = HashBy::kKvKey;
    } else {
      return absl::InvalidArgumentError("--proxy_hash must be payload or kv_key");
    }
    UpstreamOptions options;
    options.name = "proxy";
    options.backends = absl::StrSplit(FLAGS_proxy_backends, ',', absl::SkipWhitespace());
    options.balance = FLAGS_proxy_balance;
    options.max_connections_per_backend = FLAGS_proxy_connections;
    options.health_check_every = absl::Milliseconds(FLAGS_proxy_health_check_ms);
    options.health_check_request = FLAGS_proxy_health_check_request;
    // A probe waits as long as a request would, but never past the next probe.
    options.health_check_timeout = absl::Milliseconds(
        FLAGS_proxy_health_check_ms == 0
            ? FLAGS_proxy_timeout_ms
            : std::min(FLAGS_proxy_timeout_ms, FLAGS_proxy_health_check_ms));
    for (const auto& [flag, value] :
         {std::pair{"--proxy_tls_ca", &FLAGS_proxy_tls_ca},
          std::pair{"--proxy_tls_cert", &FLAGS_proxy_tls_cert},
          std::pair{"--proxy_tls_key", &FLAGS_proxy_tls_key},
          std::pair{"--proxy_tls_server_name", &FLAGS_proxy_tls_server_name}}) {
      if (!value->empty() && !FLAGS_proxy_tls) {
        return absl::InvalidArgumentError(absl::StrCat(flag, " needs --proxy_tls"));
      }
    }
    options.tls = FLAGS_proxy_tls;
    options.tls_ca = FLAGS_proxy_tls_ca;
    options.tls_cert = FLAGS_proxy_tls_cert;
    options.tls_key = FLAGS_proxy_tls_key;
    options.tls_server_name = FLAGS_proxy_tls_server_name;
    absl::StatusOr<Upstream*> backends = context.AddUpstream(options);
    if (!backends.ok()) {
      // The upstream names its own fields (--tls_ca=FILE for the TLS files): say whose flags.
      const bool tls = absl::StrContains(backends.status().message(), "--tls_");
      return absl::InvalidArgumentError(
          absl::StrCat(tls ? "--proxy_tls_ca, --proxy_tls_cert or --proxy_tls_key: "
                           : "--proxy_backends or --proxy_balance: ",
                       backends.status().message()));
    }
    backends_ = *backends;
    return absl::OkStatus();
  }

  std::unique_ptr<Handler> NewHandler(const HandlerContext& context) override {
    return std::make_unique<ProxyHandler>(backends_, retry_, hash_,
                                          FLAGS_proxy_balance == "hash",
                                          absl::Milliseconds(FLAGS_proxy_timeout_ms),
                                          context.connection.id);
  }

 private:
  Upstream* backends_ = nullptr;
  Retry retry_ = Retry::kReads;
  HashBy hash_ = HashBy::kPayload;
};

}  // namespace
}  // namespace handlers

REGISTER_SERVICE(proxy,
                 "Forwards each frame to one of --proxy_backends and returns its reply, in "
                 "order, over pooled pipelined connections.",
                 handlers::ProxyService);
