// TlsReloader: certificate rotation for a running server. SIGHUP and the admin port's POST
// /reload call Reload(): the TLS context loads --tls_cert, --tls_key and --tls_client_ca again
// and swaps them in for new handshakes (tls/context.h); connections already made go on. A file
// that fails to load keeps the certificate in use: logged, counted, never a fall back to plain
// text, never an exit.
//
//   TlsReloader reloader(tls_context.get());      // null: the server has no TLS
//   absl::Status s = reloader.Reload();           // any thread
//   page += reloader.MetricsText();               // tcp_server_tls_reloads_total{result}, expiry
#ifndef SERVER_APP_TLS_RELOADER_H_
#define SERVER_APP_TLS_RELOADER_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "tls/context.h"

namespace server {

class TlsReloader {
 public:
  explicit TlsReloader(tls::Context* context) : context_(context) {}

  // FailedPrecondition without TLS; the load error (naming the flag and file) on a failure.
  absl::Status Reload();

  // Prometheus text: reloads by result, and the expiry of the certificate in use. Empty
  // without TLS.
  std::string MetricsText() const;

 private:
  tls::Context* const context_;  // not owned
  std::atomic<int64_t> succeeded_{0};
  std::atomic<int64_t> failed_{0};
};

}  // namespace server

#endif  // SERVER_APP_TLS_RELOADER_H_
