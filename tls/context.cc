#include "tls/context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tls/stream.h"

namespace tls {
namespace {

absl::Status FileError(absl::string_view flag, absl::string_view file, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(flag, "=", file, ": ", what, ": ", TakeErrors()));
}

// What both sides share: TLS 1.2 or 1.3, no renegotiation or compression, and a peer's plain
// TCP close taken as the end of the stream (frames carry their own lengths, so a truncated
// stream cannot pass for a complete one).
SSL_CTX* NewContext(const SSL_METHOD* method) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Writes return after each record the socket took, and a retried write may come from a
  // buffer that moved (the output queue's segment grows by appending).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  // Read ahead: one read(2) takes up to 64 KiB of records instead of two per record (header,
  // then body): a third less CPU per 64 KiB request. Bytes read ahead wait inside OpenSSL,
  // where epoll cannot see them: Stream::pending() says so, and the event loops look there.
  // With SSL_MODE_RELEASE_BUFFERS the buffer is freed whenever it is empty, so an idle
  // connection holds none.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, Stream::kReadAheadBytes);
  return ctx;
}

absl::Status LoadIdentity(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return FileError("--tls_cert", cert_file, "cannot load the certificate");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return FileError("--tls_key", key_file, "cannot load the private key");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return FileError("--tls_key", key_file, absl::StrCat("does not match --tls_cert=", cert_file));
  }
  return absl::OkStatus();
}

// OpenSSL caches a certificate's decoded extensions (its key identifiers among them) the first
// time a verification looks at it: written under the certificate's lock, but read by other
// handshakes without it. Two workers verifying peers against a CA they meet for the first time
// at once race on that cache (ThreadSanitizer saw it in the CA's subject key identifier).
// Filling it here, before any worker runs, leaves the shared certificates read-only afterwards.
void FillCertificateCaches(SSL_CTX* ctx) {
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    if (X509* ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i))) {
      X509_check_purpose(ca, -1, 0);
    }
  }
  if (X509* own = SSL_CTX_get0_certificate(ctx)) X509_check_purpose(own, -1, 0);
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  for (int i = 0; i < sk_X509_num(chain); ++i) X509_check_purpose(sk_X509_value(chain, i), -1, 0);
}

}  // namespace

std::string TakeErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof(text));
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "no detail" : out;
}

// The certificate's notAfter, or the infinite past if there is none.
static absl::Time NotAfter(SSL_CTX* ctx) {
  const X509* cert = SSL_CTX_get0_certificate(ctx);
  const ASN1_TIME* end = cert != nullptr ? X509_get0_notAfter(cert) : nullptr;
  struct tm tm {};
  if (end == nullptr || ASN1_TIME_to_tm(end, &tm) != 1) return absl::InfinitePast();
  return absl::FromTM(tm, absl::UTCTimeZone());
}

Context::Context(SSL_CTX* ctx, bool server)
    : server_(server),
      ctx_(ctx, SSL_CTX_free),
      not_after_(server ? NotAfter(ctx) : absl::InfinitePast()) {}

Context::~Context() = default;

std::shared_ptr<SSL_CTX> Context::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ctx_;
}

absl::Time Context::not_after() const {
  std::lock_guard<std::mutex> lock(mu_);
  return not_after_;
}

absl::StatusOr<SSL_CTX*> Context::NewServerContext(const ServerConfig& config) {
  if (config.cert_file.empty() || config.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  SSL_CTX* ctx = NewContext(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + TakeErrors());
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> owned(ctx, SSL_CTX_free);
  if (absl::Status s = LoadIdentity(ctx, config.cert_file, config.key_file); !s.ok()) return s;
  if (!config.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, config.client_ca_file.c_str(), nullptr) != 1) {
      return FileError("--tls_client_ca", config.client_ca_file, "cannot load the CA certificates");
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str());
    if (names == nullptr) {
      return FileError("--tls_client_ca", config.client_ca_file, "no CA certificate in it");
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  // Resumption: stateless tickets (OpenSSL's default) and a session cache for TLS 1.2 clients.
  static const unsigned char kSessionContext[] = "tcp_server";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  // Before any handshake sees it: for a reload, before the swap.
  FillCertificateCaches(ctx);
  return owned.release();
}

absl::StatusOr<std::unique_ptr<Context>> Context::ForServer(const ServerConfig& config) {
  absl::StatusOr<SSL_CTX*> ctx = NewServerContext(config);
  if (!ctx.ok()) return ctx.status();
  std::unique_ptr<Context> context(new Context(*ctx, /*server=*/true));
  context->config_ = config;
  return context;
}

absl::Status Context::Reload() {
  if (!server_) return absl::FailedPreconditionError("only a server context reloads");
  std::lock_guard<std::mutex> reloading(reload_mu_);
  absl::StatusOr<SSL_CTX*> fresh = NewServerContext(config_);
  if (!fresh.ok()) return fresh.status();
  std::shared_ptr<SSL_CTX> next(*fresh, SSL_CTX_free);
  const absl::Time not_after = NotAfter(next.get());
  std::shared_ptr<SSL_CTX> previous;  // freed outside the lock, once no stream holds it
  std::lock_guard<std::mutex> lock(mu_);
  previous = std::exchange(ctx_, std::move(next));
  not_after_ = not_after;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Context>> Context::ForClient(const ClientConfig& config) {
  SSL_CTX* ctx = NewContext(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + TakeErrors());
  std::unique_ptr<Context> context(new Context(ctx, /*server=*/false));
  context->server_name_ = config.server_name;
  if (config.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return absl::InternalError("cannot load the system's CA certificates: " + TakeErrors());
    }
  } else if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
    return FileError("--tls_ca", config.ca_file, "cannot load the CA certificates");
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!config.cert_file.empty() || !config.key_file.empty()) {
    if (config.cert_file.empty() || config.key_file.empty()) {
      return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
    }
    if (absl::Status s = LoadIdentity(ctx, config.cert_file, config.key_file); !s.ok()) return s;
  }
  FillCertificateCaches(ctx);
  return context;
}

}  // namespace tls
