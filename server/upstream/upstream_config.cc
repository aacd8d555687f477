#include "server/upstream/upstream_config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace server {
namespace upstream {

absl::StatusOr<Address> Resolve(absl::string_view host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("backend '", host_port, "': not host:port"));
  }
  absl::string_view host = host_port.substr(0, colon);
  const absl::string_view port = host_port.substr(colon + 1);
  int port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number) || port_number <= 0 || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("backend '", host_port, "': bad port"));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string host_string(host), port_string(port);
  if (const int error = getaddrinfo(host_string.c_str(), port_string.c_str(), &hints, &found);
      error != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("backend '", host_port, "': ", gai_strerror(error)));
  }
  Address address;
  std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
  address.length = found->ai_addrlen;
  freeaddrinfo(found);
  return address;
}

namespace {

bool IsIpLiteral(absl::string_view host_port) {
  std::string host(host_port.substr(0, host_port.rfind(':')));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  in6_addr any;
  return inet_pton(AF_INET, host.c_str(), &any) == 1 || inet_pton(AF_INET6, host.c_str(), &any) == 1;
}

bool SameAddress(const Address& a, const Address& b) {
  return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UpstreamConfig>> UpstreamConfig::Make(
    const handlers::UpstreamOptions& options, Resolver resolve) {
  auto invalid = [&options](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("upstream '", options.name, "': ", what));
  };
  if (options.name.empty()) return invalid("needs a name");
  for (char c : options.name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') {
      return invalid("a name of [a-z0-9_] only");
    }
  }
  if (options.backends.empty()) return invalid("needs at least one backend");
  if (options.backends.size() > 64) return invalid("at most 64 backends");
  if (options.max_connections_per_backend < 1) return invalid("max_connections_per_backend < 1");
  if (options.max_pipelined < 1) return invalid("max_pipelined < 1");
  if (options.max_attempts < 1) return invalid("max_attempts < 1");
  if (options.failures_to_eject < 1) return invalid("failures_to_eject < 1");
  if (options.retry_ratio < 0 || options.retry_floor < 0) return invalid("negative retry budget");
  if (options.connect_timeout <= absl::ZeroDuration()) return invalid("connect_timeout <= 0");
  if (options.health_check_every < absl::ZeroDuration() ||
      (options.health_check_every > absl::ZeroDuration() &&
       options.health_check_every < absl::Milliseconds(10))) {
    return invalid("health_check_every must be 0 (none) or at least 10 ms");
  }
  if (options.health_check_timeout <= absl::ZeroDuration()) {
    return invalid("health_check_timeout <= 0");
  }
  std::unique_ptr<UpstreamConfig> config(new UpstreamConfig());
  absl::StatusOr<Balance> balance = ParseBalance(options.balance);
  if (!balance.ok()) return invalid(balance.status().message());
  config->balance_ = *balance;
  config->options_ = options;
  if (options.tls) {
    absl::StatusOr<std::unique_ptr<tls::Context>> context =
        tls::Context::ForClient({.ca_file = options.tls_ca,
                                 .cert_file = options.tls_cert,
                                 .key_file = options.tls_key,
                                 .server_name = options.tls_server_name});
    if (!context.ok()) return invalid(context.status().message());
    config->tls_ = *std::move(context);
  }
  config->resolve_ = resolve ? std::move(resolve) : Resolver(Resolve);
  for (const std::string& name : options.backends) {
    absl::StatusOr<Address> address = config->resolve_(name);
    if (!address.ok()) return invalid(address.status().message());
    Backend backend;
    backend.name = name;
    backend.by_name = !IsIpLiteral(name);
    backend.resolved->address = *address;
    config->backends_.push_back(std::move(backend));
  }
  return config;
}

int UpstreamConfig::ResolveAgain() const {
  int changed = 0;
  for (const Backend& backend : backends_) {
    if (!backend.by_name) continue;
    absl::StatusOr<Address> address = resolve_(backend.name);
    if (!address.ok()) {
      counters_.resolve_failures.fetch_add(1, std::memory_order_relaxed);
      LOG(WARNING) << "upstream " << options_.name << ": " << backend.name
                   << " did not resolve again, keeping its last address: "
                   << address.status().message();
      continue;
    }
    std::lock_guard<std::mutex> lock(backend.resolved->mu);
    if (SameAddress(backend.resolved->address, *address)) continue;
    backend.resolved->address = *address;
    ++changed;
    LOG(INFO) << "upstream " << options_.name << ": " << backend.name
              << " resolves to a new address; new connections go there";
  }
  return changed;
}

}  // namespace upstream
}  // namespace server
