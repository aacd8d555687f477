// The server binary: parse flags, pick the handler from the registry, start it, serve until
// SIGINT or SIGTERM (SIGHUP reloads the TLS certificate), then shut down gracefully and exit 0.
// Under systemd it takes the sockets passed by name, and notifies readiness, the drain and the
// watchdog (server/service). Which handlers exist is decided by
// what the binary links (server_binary in server.bzl), not by this file.
//
// Start-up errors a user can cause print one line "server: ..." on stderr: exit 2 for a usage
// error (a flag, an unknown or duplicate handler, a handler's start hook refusing its flags),
// exit 1 for what the environment refuses (the address cannot be bound).
#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/cli.h"
#include "common/host_port.h"
#include "glog/logging.h"
#include "handlers/registry.h"
#include "server/admin/admin_server.h"
#include "server/admin/metrics.h"
#include "server/admin/version.h"
#include "server/app/admin_pages.h"
#include "server/app/flags.h"
#include "server/app/server.h"
#include "server/app/tls_reloader.h"
#include "server/net/socket.h"
#include "server/service/activation.h"
#include "server/service/notify.h"
#include "server/service/watchdog.h"
#include "tls/context.h"

namespace {

// Descriptors the server needs besides its connections: listeners, epoll and wake-up
// descriptors of each thread, the reserve descriptor, logs.
constexpr int kDescriptorsBesidesConnections = 64;

const handlers::HandlerInfo& FindHandlerOrExit(const std::string& flag, const std::string& name) {
  const handlers::HandlerInfo* info = handlers::HandlerRegistry::Global().Find(name);
  if (info == nullptr) {
    common::UsageError(absl::StrCat("--", flag, ": unknown handler '", name, "'; available: ",
                                    absl::StrJoin(handlers::HandlerRegistry::Global().Names(), ", ")));
  }
  return *info;
}

// Written to a temporary name and renamed, so a reader never sees a half-written port.
void WritePortFileOrExit(const std::string& flag, const std::string& path, int port) {
  const std::string temporary = path + ".tmp";
  std::ofstream out(temporary);
  out << port << "\n";
  out.close();
  if (!out || std::rename(temporary.c_str(), path.c_str()) != 0) {
    common::RuntimeError(absl::StrCat("--", flag, ": cannot write ", path));
  }
}

// What a served handler's start hook may use: counters that appear in the server's stats, and
// the memory budget.
class StartContext : public handlers::StartContext {
 public:
  StartContext(server::Server* server, std::string handler)
      : server_(server), handler_(std::move(handler)) {}
  handlers::HandlerCounter* AddCounter(absl::string_view name) override {
    return server_->AddHandlerCounter(handler_, name);
  }
  handlers::HandlerGauge* AddGauge(absl::string_view name) override {
    return server_->AddHandlerGauge(handler_, name);
  }
  handlers::MemoryAccount* memory_budget() override { return server_->memory_budget(); }
  absl::StatusOr<handlers::Upstream*> AddUpstream(
      const handlers::UpstreamOptions& options) override {
    return server_->AddUpstream(options);
  }

 private:
  server::Server* const server_;
  const std::string handler_;
};

// Makes the handler's service and starts it (exit 2 with its message if it refuses), and hands
// its shutdown steps to the server; returns what the server serves. The service lives as long
// as whatever holds the factory or a hook.
server::ServedHandler Prepare(const handlers::HandlerInfo& info, server::Server* server) {
  std::shared_ptr<handlers::Service> service = info.new_service();
  StartContext context(server, info.name);
  if (absl::Status status = service->Start(context); !status.ok()) {
    common::UsageError(status.message());
  }
  server->AddDrainHook([service] { service->Drain(); });
  server->AddStopHook([service] { service->Stop(); });
  return {[service](const handlers::HandlerContext& context) {
    return service->NewHandler(context);
  }};
}

// The data and stats ports' TLS settings (--tls_cert, --tls_key, --tls_client_ca), or null for
// plain text. A file that cannot be used exits 2 naming the flag and the file.
std::unique_ptr<tls::Context> TlsContextOrExit() {
  if (FLAGS_tls_cert.empty() && FLAGS_tls_key.empty() && FLAGS_tls_client_ca.empty()) return nullptr;
  auto context = tls::Context::ForServer(
      {.cert_file = FLAGS_tls_cert, .key_file = FLAGS_tls_key, .client_ca_file = FLAGS_tls_client_ca});
  if (!context.ok()) common::UsageError(context.status().message());
  return *std::move(context);
}

// What /metrics says about this build and its configuration.
server::ServerInfo DescribeServer(const std::string& handler, const server::ServerOptions& options,
                                  int port) {
  server::ServerInfo info;
  info.version = server::kVersion;
  info.start_time_seconds = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  info.config = {{"handler", handler},
                 {"bind", FLAGS_bind},
                 {"port", std::to_string(port)},
                 {"workers", std::to_string(server::WorkerCount(options))},
                 {"tls", FLAGS_tls_cert.empty() ? "off"
                         : FLAGS_tls_client_ca.empty() ? "on" : "mutual"}};
  info.limits = {{"max_connections", options.max_connections},
                 {"max_frame_bytes", options.max_frame_bytes},
                 {"max_pending_output_bytes", static_cast<int64_t>(options.max_pending_output_bytes)},
                 {"max_buffer_memory", options.max_buffer_memory},
                 {"max_inflight_per_connection", options.max_inflight_per_connection},
                 {"max_queued_requests", options.max_queued_requests},
                 {"handler_threads", options.handler_threads}};
  return info;
}

}  // namespace

int main(int argc, char** argv) {
  std::string usage = "Serves length-prefixed frames with a pluggable handler.\n\n"
                      "Usage: server [--handler=NAME] [--port=N] [flags]\n\nHandlers:";
  for (const std::string& name : handlers::HandlerRegistry::Global().Names()) {
    absl::StrAppend(&usage, "\n  ", name, ": ",
                    handlers::HandlerRegistry::Global().Find(name)->description);
  }
  const std::vector<std::string> args = common::ParseCommandLine(argc, argv, usage);
  if (!args.empty()) common::UsageError(absl::StrCat("unexpected argument '", args[0], "'"));
  if (absl::Status status = handlers::HandlerRegistry::Global().status(); !status.ok()) {
    common::UsageError(status.message());
  }
  const server::ServerOptions options = server::OptionsFromFlags();
  const handlers::HandlerInfo& handler = FindHandlerOrExit("handler", FLAGS_handler);
  // Under systemd's socket activation the sockets it holds replace the port flags.
  const service::ActivatedSockets sockets = server::ActivatedSocketsOrExit();
  const bool serve_stats = sockets.active() ? sockets.stats >= 0 : FLAGS_stats_port >= 0;
  const bool serve_admin = sockets.active() ? sockets.admin >= 0 : FLAGS_admin_port >= 0;
  const handlers::HandlerInfo* stats_handler =
      serve_stats ? &FindHandlerOrExit("stats_handler", FLAGS_stats_handler) : nullptr;

  // SIGINT/SIGTERM (stop) and SIGHUP (reload the certificate) are taken by sigwait() below,
  // never by a worker thread: block them before any thread starts (threads inherit the mask).
  // A peer that vanishes must not kill us.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Reply buffers and partial frames of large requests are freed and reallocated at request
  // rate. By default glibc hands such blocks back to the kernel on free and the next
  // allocation faults them in again page by page: 43,000 page faults a second and half the
  // throughput with 64 KiB frames (docs/BENCHMARKS.md). Keep them in the heap instead; the cost
  // is that freed memory stays with the process (up to 16 MiB per arena above what is in use).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);

  const int fd_limit = server::RaiseFileDescriptorLimit();
  if (fd_limit < options.max_connections + kDescriptorsBesidesConnections) {
    LOG(WARNING) << "file descriptor limit " << fd_limit << " is below --max_connections="
                 << options.max_connections << "; accepts will pause when it is reached";
  }

  const std::unique_ptr<tls::Context> tls = TlsContextOrExit();

  server::Server server(options);
  server::ServedHandler served = Prepare(handler, &server);
  served.tls = tls.get();
  server.AddListener({FLAGS_bind, FLAGS_port, served, sockets.data});
  if (stats_handler != nullptr) {
    server::ServedHandler stats_served =
        stats_handler != &handler ? Prepare(*stats_handler, &server) : served;
    stats_served.tls = tls.get();
    server.AddListener({FLAGS_bind, FLAGS_stats_port, stats_served, sockets.stats});
  }
  if (absl::Status status = server.Start(); !status.ok()) common::RuntimeError(status.message());
  server::ServerInfo info = DescribeServer(handler.name, options, server.port(0));
  info.config.emplace_back("io", common::IoBackendName(server.io_backend()));
  LOG(INFO) << "listening on "
            << (sockets.active() ? absl::StrCat("port ", server.port(0), " (socket activation)")
                                 : common::HostPort(FLAGS_bind, server.port(0)))
            << " handler=" << handler.name << " workers=" << server::WorkerCount(options)
            << " io=" << common::IoBackendName(server.io_backend())
            << (stats_handler ? absl::StrCat(" stats=", common::HostPort(FLAGS_bind, server.port(1)))
                              : std::string());
  if (!FLAGS_stats_port_file.empty() && stats_handler != nullptr) {
    WritePortFileOrExit("stats_port_file", FLAGS_stats_port_file, server.port(1));
  }
  std::atomic<bool> ready{true};  // accepting; /readyz
  server::TlsReloader reloader(tls.get());
  server::AdminServer admin(server::AdminPages(&server, &info, &ready, &reloader));
  if (serve_admin) {
    if (sockets.admin >= 0) {
      if (absl::Status s = admin.StartOn(sockets.admin); !s.ok()) common::RuntimeError(s.message());
    }
    absl::StatusOr<int> admin_port = sockets.admin >= 0
                                         ? server::LocalPort(sockets.admin)
                                         : admin.Start(FLAGS_admin_bind, FLAGS_admin_port);
    if (!admin_port.ok()) common::RuntimeError(admin_port.status().message());
    LOG(INFO) << "admin (HTTP) on port " << *admin_port
              << (sockets.admin >= 0 ? " (socket activation)" : " of " + FLAGS_admin_bind);
    if (!FLAGS_admin_port_file.empty()) {
      WritePortFileOrExit("admin_port_file", FLAGS_admin_port_file, *admin_port);
    }
  }
  if (!FLAGS_port_file.empty()) {
    WritePortFileOrExit("port_file", FLAGS_port_file, server.port(0));  // last: "ready"
  }

  // systemd (Type=notify): every port listens and the handler has started. The watchdog pings
  // only while every worker's loop turns.
  service::Notify(absl::StrCat("READY=1\nSTATUS=serving on port ", server.port(0)));
  service::Watchdog watchdog(
      service::WatchdogPeriod(), [&server] { server.WakeWorkers(); },
      [&server] { return server.OldestTurnNs(); });
  watchdog.Start();

  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) {
    reloader.Reload().IgnoreError();  // logged and counted; the old certificate stays on failure
  }
  // Readiness first: a load balancer polling /readyz stops sending new connections while this
  // server still accepts and serves for --drain_delay_ms; then the phased drain.
  ready = false;
  service::Notify("STOPPING=1\nSTATUS=draining");
  watchdog.Stop();
  LOG(INFO) << "received " << strsignal(signal_number) << "; not ready, draining in "
            << FLAGS_drain_delay_ms << " ms (grace " << options.shutdown_grace << ")";
  absl::SleepFor(absl::Milliseconds(FLAGS_drain_delay_ms));
  server.Shutdown();
  admin.Stop();
  LOG(INFO) << "stopped";
  return 0;
}
