#include "server/app/admin_pages.h"

#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "handlers/stats_source.h"
#include "server/admin/pages.h"
#include "server/admin/process_stats.h"

namespace server {
namespace {

// How long a page waits for the workers' loops (a stuck one must not hang the admin port).
constexpr absl::Duration kWorkerAnswerTimeout = absl::Seconds(2);

}  // namespace

AdminServer::Pages AdminPages(Server* server, const ServerInfo* info,
                              const std::atomic<bool>* ready, TlsReloader* reloader) {
  AdminServer::Pages pages;
  pages.metrics = [server, info, reloader] {
    return PrometheusText(server->stats(), *info, ReadProcessStats(), &server->upstreams()) +
           reloader->MetricsText();
  };
  pages.stats = [server] { return handlers::StatsText(server->stats().Snapshot()); };
  pages.ready = [ready] { return ready->load(); };
  pages.connections = [server](size_t limit, bool json) {
    bool complete = false;
    std::vector<ConnectionReport> reports =
        server->Connections(limit, kWorkerAnswerTimeout, &complete);
    return ConnectionsPage(reports, complete, json);
  };
  pages.flags = [] { return FlagsPage(); };
  // glog's verbosity is a plain int the loops read in VLOG: after the change, a task on each
  // loop makes it seen there (and keeps ThreadSanitizer's order) before the page answers.
  pages.verbosity = [] { return FLAGS_v; };
  pages.set_verbosity = [server](int v) {
    const int before = FLAGS_v;
    gflags::SetCommandLineOption("v", std::to_string(v).c_str());
    if (!server->RunOnEveryWorker([] {}, kWorkerAnswerTimeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("v=", v, " set, but a worker's loop did not take it within ",
                       absl::FormatDuration(kWorkerAnswerTimeout)));
    }
    LOG(INFO) << "logging verbosity changed from " << before << " to " << v << " (admin port)";
    return absl::OkStatus();
  };
  pages.reload = [reloader] { return reloader->Reload(); };
  return pages;
}

}  // namespace server
