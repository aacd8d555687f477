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
#ifndef TLS_CONTEXT_H_
#define TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

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

  SSL_CTX* get() const { return ctx_; }
  bool is_server() const { return server_; }
  // Client side: the name to verify and send (may be empty: then no name is checked).
  const std::string& server_name() const { return server_name_; }

 private:
  Context(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}

  SSL_CTX* const ctx_;
  const bool server_;
  std::string server_name_;
};

// OpenSSL's error queue as one line ("error:...:reason; ..."), emptying it.
std::string TakeErrors();

}  // namespace tls

#endif  // TLS_CONTEXT_H_
