// tls::Context: the settings every TLS connection of one side shares (an OpenSSL SSL_CTX),
// made from PEM files named by the standard flags.
//
// Both sides speak TLS 1.2 or 1.3 only, with OpenSSL's default cipher suites (no renegotiation,
// no compression). A server context with a client CA requires every client to present a
// certificate that CA signed (mutual TLS); a client context verifies the server's certificate
// against its CA file (or the system's) and its name.
//
//   auto server = tls::Context::ForServer({.cert_file = "server.pem", .key_file = "key.pem"});
//   if (!server.ok()) return Exit(2, server.status());   // message names the flag and the file
//   std::unique_ptr<tls::Stream> s = tls::Stream::Accept(**server, fd);
//
// Errors name the flag a user set (--tls_cert, --tls_key, --tls_client_ca on the server;
// --tls_ca, --tls_cert, --tls_key on the client), the file, and OpenSSL's reason.
// Thread-safe once made: streams on any thread share it.
//
// A server context can be reloaded from its files while it serves (certificate rotation):
// Reload() builds a new SSL_CTX and swaps it in atomically; streams made after use it, streams
// made before keep the one they were made with (each SSL holds a reference to its SSL_CTX). If
// a file fails to load, the old SSL_CTX stays and the error says why.
//
//   absl::Status s = context->Reload();     // any thread; SIGHUP, POST /reload
//   absl::Time expires = context->not_after();
#ifndef TLS_CONTEXT_H_
#define TLS_CONTEXT_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace tls {

struct ServerConfig {
  std::string cert_file;       // --tls_cert: the server's certificate chain (PEM)
  std::string key_file;        // --tls_key: its private key (PEM)
  std::string client_ca_file;  // --tls_client_ca: if set, clients must present a certificate it signed
};

struct ClientConfig {
  std::string ca_file;      // --tls_ca: CAs that may sign the server's certificate; empty: the system's
  std::string cert_file;    // --tls_cert: this client's certificate, for mutual TLS (optional)
  std::string key_file;     // --tls_key: its key
  std::string server_name;  // --tls_server_name: checked against the certificate and sent as SNI
};

class Context {
 public:
  static absl::StatusOr<std::unique_ptr<Context>> ForServer(const ServerConfig& config);
  static absl::StatusOr<std::unique_ptr<Context>> ForClient(const ClientConfig& config);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // The SSL_CTX new streams use now. The reference keeps it alive across a Reload().
  std::shared_ptr<SSL_CTX> current() const;
  bool is_server() const { return server_; }
  // Server side: loads the files of its ServerConfig again and, if all load, swaps the new
  // SSL_CTX in; else keeps the current one. Reloads are serialised.
  absl::Status Reload();
  // Server side: the expiry (notAfter) of the certificate new handshakes present.
  absl::Time not_after() const;
  // Client side: the name to verify and send (may be empty: then no name is checked).
  const std::string& server_name() const { return server_name_; }

 private:
  Context(SSL_CTX* ctx, bool server);
  static absl::StatusOr<SSL_CTX*> NewServerContext(const ServerConfig& config);

  const bool server_;
  ServerConfig config_;  // server side: what Reload() loads
  std::string server_name_;
  std::mutex reload_mu_;  // one Reload() at a time
  mutable std::mutex mu_;
  std::shared_ptr<SSL_CTX> ctx_;  // guarded by mu_
  absl::Time not_after_;          // guarded by mu_
};

// OpenSSL's error queue as one line ("error:...:reason; ..."), emptying it.
std::string TakeErrors();

}  // namespace tls

#endif  // TLS_CONTEXT_H_
