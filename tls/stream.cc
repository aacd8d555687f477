#include "tls/stream.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace tls {
namespace {

bool IsIpAddress(const std::string& name) {
  unsigned char address[16];
  return inet_pton(AF_INET, name.c_str(), address) == 1 ||
         inet_pton(AF_INET6, name.c_str(), address) == 1;
}

}  // namespace

const char* FailureName(Failure failure) {
  switch (failure) {
    case Failure::kNone: return "none";
    case Failure::kNoCertificate: return "no_certificate";
    case Failure::kBadCertificate: return "bad_certificate";
    case Failure::kProtocol: return "protocol";
    case Failure::kAborted: return "aborted";
  }
  return "unknown";
}

// An SSL object on `fd`, or null.
static SSL* NewSsl(const Context& context, int fd) {
  SSL* ssl = SSL_new(context.current().get());  // holds its own reference to the SSL_CTX
  if (ssl != nullptr && SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

std::unique_ptr<Stream> Stream::Accept(const Context& context, int fd) {
  SSL* ssl = NewSsl(context, fd);
  if (ssl == nullptr) return nullptr;
  SSL_set_accept_state(ssl);
  return std::unique_ptr<Stream>(new Stream(ssl));
}

std::unique_ptr<Stream> Stream::Connect(const Context& context, int fd) {
  SSL* ssl = NewSsl(context, fd);
  if (ssl == nullptr) return nullptr;
  SSL_set_connect_state(ssl);
  const std::string& name = context.server_name();
  if (IsIpAddress(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else if (!name.empty()) {
    SSL_set_tlsext_host_name(ssl, name.c_str());  // SNI
    SSL_set1_host(ssl, name.c_str());             // and the certificate must carry the name
  }
  return std::unique_ptr<Stream>(new Stream(ssl));
}

Stream::~Stream() { SSL_free(ssl_); }

Progress Stream::Handshake() {
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) {
    handshake_done_ = true;
    wants_write_ = false;
    return Progress::kDone;
  }
  return Classify(result);
}

size_t Stream::Read(char* data, size_t size, Progress* progress) {
  size_t got = 0;
  const int result = SSL_read_ex(ssl_, data, size, &got);
  if (result == 1) {
    wants_write_ = false;
    *progress = Progress::kDone;
    return got;
  }
  *progress = Classify(result);
  return 0;
}

size_t Stream::Write(const char* data, size_t size, Progress* progress) {
  size_t written = 0;
  const int result = SSL_write_ex(ssl_, data, size, &written);
  if (result == 1) {
    wants_write_ = false;
    *progress = Progress::kDone;
    return written;
  }
  *progress = Classify(result);
  return 0;
}

ssize_t Stream::ReadSome(char* data, size_t size) {
  size_t got = 0;
  Progress progress = Progress::kDone;
  while (size - got >= kMaxRecordBytes && progress == Progress::kDone) {
    got += Read(data + got, size - got, &progress);
  }
  if (got > 0) return static_cast<ssize_t>(got);
  if (progress == Progress::kEnd) return 0;
  errno = progress == Progress::kFailed ? EPROTO : EAGAIN;
  return -1;
}

ssize_t Stream::WriteSome(const char* data, size_t size) {
  Progress progress;
  const size_t n = Write(data, size, &progress);
  if (n > 0) return static_cast<ssize_t>(n);
  errno = progress == Progress::kFailed ? EPIPE : EAGAIN;
  return -1;
}

bool Stream::pending() const { return SSL_has_pending(ssl_) == 1; }

Progress Stream::Classify(int result) {
  wants_write_ = false;
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
      return Progress::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      wants_write_ = true;
      return Progress::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      if (handshake_done_) return Progress::kEnd;
      failure_ = Failure::kAborted;
      error_ = "the peer closed the connection during the handshake";
      return Progress::kFailed;
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      error_ = saved_errno != 0 ? std::strerror(saved_errno) : "the connection was closed";
      if (!handshake_done_) failure_ = Failure::kAborted;
      return Progress::kFailed;
    default: {
      const int reason = ERR_GET_REASON(ERR_peek_error());
      error_ = TakeErrors();
      if (handshake_done_) return Progress::kFailed;
      const long verify = SSL_get_verify_result(ssl_);
      if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        failure_ = Failure::kNoCertificate;
      } else if (verify != X509_V_OK) {
        failure_ = Failure::kBadCertificate;
        error_ = absl::StrCat("certificate verify failed: ", X509_verify_cert_error_string(verify),
                              " (", error_, ")");
      } else {
        failure_ = Failure::kProtocol;
      }
      return Progress::kFailed;
    }
  }
}

std::string Stream::peer_subject() const {
  const X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* text = nullptr;
  const long length = BIO_get_mem_data(bio, &text);
  std::string subject(text, length);
  BIO_free(bio);
  return subject;
}

std::string Stream::version() const { return SSL_get_version(ssl_); }

bool Stream::session_reused() const { return SSL_session_reused(ssl_) == 1; }

void Stream::set_session(const Session& session) {
  if (session != nullptr) SSL_set_session(ssl_, session.get());
}

Stream::Session Stream::resumable_session() const {
  SSL_SESSION* session = SSL_get1_session(ssl_);
  if (session == nullptr || SSL_SESSION_is_resumable(session) != 1) {
    SSL_SESSION_free(session);
    return nullptr;
  }
  return Session(session, SSL_SESSION_free);
}

void Stream::Shutdown() {
  if (handshake_done_) SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace tls
