#include "server/app/tls_reloader.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"

namespace server {

absl::Status TlsReloader::Reload() {
  if (context_ == nullptr) {
    return absl::FailedPreconditionError("no TLS to reload: the server runs without --tls_cert");
  }
  absl::Status status = context_->Reload();
  if (status.ok()) {
    succeeded_.fetch_add(1, std::memory_order_relaxed);
    LOG(INFO) << "TLS reloaded: new handshakes present the certificate expiring "
              << absl::FormatTime(context_->not_after(), absl::UTCTimeZone());
  } else {
    failed_.fetch_add(1, std::memory_order_relaxed);
    LOG(ERROR) << "TLS reload failed, the previous certificate stays in use: " << status.message();
  }
  return status;
}

std::string TlsReloader::MetricsText() const {
  if (context_ == nullptr) return "";
  return absl::StrCat(
      "# HELP tcp_server_tls_reloads_total Reloads of the TLS certificate, key and client CA "
      "(SIGHUP, POST /reload), by result; a failed one keeps the previous certificate.\n"
      "# TYPE tcp_server_tls_reloads_total counter\n"
      "tcp_server_tls_reloads_total{result=\"ok\"} ",
      succeeded_.load(std::memory_order_relaxed),
      "\ntcp_server_tls_reloads_total{result=\"failed\"} ",
      failed_.load(std::memory_order_relaxed),
      "\n# HELP tcp_server_tls_certificate_expiry_seconds When the certificate new handshakes "
      "present expires (notAfter), seconds since the Unix epoch.\n"
      "# TYPE tcp_server_tls_certificate_expiry_seconds gauge\n"
      "tcp_server_tls_certificate_expiry_seconds ",
      absl::ToUnixSeconds(context_->not_after()), "\n");
}

}  // namespace server
