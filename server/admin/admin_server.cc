#include "server/admin/admin_server.h"

#include "absl/strings/str_cat.h"
#include "common/thread_name.h"
#include "httplib.h"

namespace server {
namespace {
constexpr char kTextPlain[] = "text/plain; charset=utf-8";
// Prometheus's text exposition format, version 0.0.4.
constexpr char kExposition[] = "text/plain; version=0.0.4; charset=utf-8";
}  // namespace

AdminServer::AdminServer(Pages pages) : pages_(std::move(pages)) {}

AdminServer::~AdminServer() { Stop(); }

absl::StatusOr<int> AdminServer::Start(const std::string& address, int port) {
  http_ = std::make_unique<httplib::Server>();
  // One thread answers requests: scrapes and probes are rare and cheap.
  http_->new_task_queue = [] { return new httplib::ThreadPool(1); };
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(pages_.metrics(), kExposition);
  });
  http_->Get("/stats", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(pages_.stats(), kTextPlain);
  });
  http_->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", kTextPlain);
  });
  http_->Get("/readyz", [this](const httplib::Request&, httplib::Response& response) {
    const bool ready = pages_.ready();
    response.status = ready ? 200 : 503;
    response.set_content(ready ? "ready\n" : "draining\n", kTextPlain);
  });
  const bool bound = port == 0 ? (port = http_->bind_to_any_port(address)) > 0
                               : http_->bind_to_port(address, port);
  if (!bound) {
    return absl::UnavailableError(absl::StrCat("--admin_port: cannot bind ", address, " port ", port));
  }
  thread_ = std::thread([this] {
    common::NameThisThread("admin-http");
    http_->listen_after_bind();
  });
  return port;
}

void AdminServer::Stop() {
  if (!thread_.joinable()) return;
  http_->stop();
  thread_.join();
}

}  // namespace server
