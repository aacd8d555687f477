#include "server/admin/admin_server.h"

#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/thread_name.h"
#include "httplib.h"
#include "server/admin/pages.h"

namespace server {
namespace {
constexpr char kTextPlain[] = "text/plain; charset=utf-8";
constexpr char kJson[] = "application/json";
// Prometheus's text exposition format, version 0.0.4.
constexpr char kExposition[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr size_t kDefaultConnectionsLimit = 1000;

bool WantsJson(const httplib::Request& request) {
  return request.get_param_value("format") == "json";
}

// A page that changes state: anything but POST gets 405.
void PostOnly(httplib::Response& response) {
  response.status = 405;
  response.set_header("Allow", "POST");
  response.set_content("use POST\n", kTextPlain);
}

}  // namespace

// cpp-httplib's server, able to take a listening socket made elsewhere (its socket is a
// protected member), and to let go of it without shutting it down.
class AdminServer::Http : public httplib::Server {
 public:
  void Adopt(int fd) { svr_sock_ = fd; }
  // The listen loop sees no socket at its next turn (it waits in select() at most an idle
  // interval, set below) and returns; the caller closes the descriptor.
  void Release() { svr_sock_ = INVALID_SOCKET; }
};

AdminServer::AdminServer(Pages pages) : pages_(std::move(pages)) {}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::Route() {
  http_ = std::make_unique<Http>();
  // One thread answers requests: scrapes and probes are rare and cheap.
  http_->new_task_queue = [] { return new httplib::ThreadPool(1); };
  using Request = httplib::Request;
  using Response = httplib::Response;
  http_->Get("/metrics", [this](const Request&, Response& response) {
    response.set_content(pages_.metrics(), kExposition);
  });
  http_->Get("/stats", [this](const Request& request, Response& response) {
    if (WantsJson(request)) return response.set_content(StatsJson(pages_.stats()), kJson);
    response.set_content(pages_.stats(), kTextPlain);
  });
  http_->Get("/healthz", [](const Request&, Response& response) {
    response.set_content("ok\n", kTextPlain);
  });
  http_->Get("/readyz", [this](const Request&, Response& response) {
    const bool ready = pages_.ready();
    response.status = ready ? 200 : 503;
    response.set_content(ready ? "ready\n" : "draining\n", kTextPlain);
  });
  if (pages_.connections) {
    http_->Get("/connections", [this](const Request& request, Response& response) {
      size_t limit = kDefaultConnectionsLimit;
      if (request.has_param("limit") &&
          !absl::SimpleAtoi(request.get_param_value("limit"), &limit)) {
        response.status = 400;
        return response.set_content("limit: expected a number\n", kTextPlain);
      }
      const bool json = WantsJson(request);
      response.set_content(pages_.connections(limit, json), json ? kJson : kTextPlain);
    });
  }
  if (pages_.flags) {
    http_->Get("/flags", [this](const Request&, Response& response) {
      response.set_content(pages_.flags(), kTextPlain);
    });
  }
  if (pages_.verbosity && pages_.set_verbosity) {
    http_->Get("/logging", [this](const Request&, Response& response) {
      response.set_content(absl::StrCat("v=", pages_.verbosity(), "\n"), kTextPlain);
    });
    http_->Post("/logging", [this](const Request& request, Response& response) {
      int v = 0;
      if (!absl::SimpleAtoi(request.get_param_value("v"), &v) || v < 0 || v > 9) {
        response.status = 400;
        return response.set_content("v: expected ?v=N with N in 0..9\n", kTextPlain);
      }
      if (absl::Status s = pages_.set_verbosity(v); !s.ok()) {
        response.status = 500;
        return response.set_content(absl::StrCat(s.message(), "\n"), kTextPlain);
      }
      response.set_content(absl::StrCat("v=", pages_.verbosity(), "\n"), kTextPlain);
    });
  }
  if (pages_.reload) {
    http_->Get("/reload", [](const Request&, Response& response) { PostOnly(response); });
    http_->Post("/reload", [this](const Request&, Response& response) {
      absl::Status s = pages_.reload();
      response.status = s.ok() ? 200 : absl::IsFailedPrecondition(s) ? 409 : 500;
      response.set_content(s.ok() ? "reloaded\n" : absl::StrCat(s.message(), "\n"), kTextPlain);
    });
  }
}

absl::StatusOr<int> AdminServer::Start(const std::string& address, int port) {
  Route();
  const bool bound = port == 0 ? (port = http_->bind_to_any_port(address)) > 0
                               : http_->bind_to_port(address, port);
  if (!bound) {
    return absl::UnavailableError(absl::StrCat("--admin_port: cannot bind ", address, " port ", port));
  }
  Serve();
  return port;
}

absl::Status AdminServer::StartOn(int listening_fd) {
  Route();
  http_->Adopt(listening_fd);
  adopted_fd_ = listening_fd;
  // Turns of the listen loop between connections, so that Stop() is seen without a shutdown.
  http_->set_idle_interval(0, 100'000);
  Serve();
  return absl::OkStatus();
}

void AdminServer::Serve() {
  thread_ = std::thread([this] {
    common::NameThisThread("admin-http");
    http_->listen_after_bind();
  });
}

void AdminServer::Stop() {
  if (!thread_.joinable()) return;
  if (adopted_fd_ >= 0) {
    http_->Release();
    thread_.join();
    close(adopted_fd_);
    adopted_fd_ = -1;
    return;
  }
  http_->stop();
  thread_.join();
}

}  // namespace server
