#include "server/flags.h"

#include <thread>

#include "absl/strings/str_cat.h"

DEFINE_string(handler, "echo", "Registered handler that answers requests (see --help's list).");
DEFINE_string(bind, "127.0.0.1", "Address to listen on: an IPv4 or IPv6 literal (e.g. ::1).");
DEFINE_int32(port, 8080, "TCP port to listen on; 0 picks a free port (see --port_file).");
DEFINE_string(port_file, "", "If set, the bound port is written to this file once listening.");
DEFINE_int32(stats_port, -1,
             "If >= 0, also listen on this port (0: any free port) with --stats_handler, so "
             "statistics can be read while --handler serves. -1: no stats listener.");
DEFINE_string(stats_handler, "stats", "Handler for the --stats_port listener.");
DEFINE_string(stats_port_file, "", "If set, the bound --stats_port is written to this file.");
DEFINE_int32(workers, 0, "Number of worker threads; 0 means one per CPU.");
DEFINE_int32(max_connections, 10000,
             "Open connections allowed; beyond this new ones get an error reply and are closed.");
DEFINE_uint32(max_frame_bytes, 16u << 20,
              "Largest frame payload accepted or sent; a longer declared length closes the "
              "connection.");
DEFINE_int64(idle_timeout_ms, 300000, "Close a connection with no traffic for this long.");
DEFINE_int64(frame_timeout_ms, 10000,
             "Close a connection whose started frame is not complete within this time.");
DEFINE_uint64(max_pending_output_bytes, 4u << 20,
              "Per connection: above this many unsent reply bytes, stop reading its requests "
              "until the client catches up.");
DEFINE_int64(shutdown_grace_ms, 5000,
             "On SIGINT/SIGTERM: time to answer requests already received before closing.");
DEFINE_int32(max_frames_per_batch, 64,
             "Fairness: frames answered from one connection before serving the others.");

namespace server {
namespace {

absl::Status FlagError(absl::string_view flag, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", problem));
}

}  // namespace

absl::StatusOr<ServerOptions> OptionsFromFlags() {
  if (FLAGS_port < 0 || FLAGS_port > 65535) return FlagError("port", "must be in 0..65535");
  if (FLAGS_stats_port < -1 || FLAGS_stats_port > 65535) {
    return FlagError("stats_port", "must be -1 (off) or in 0..65535");
  }
  if (FLAGS_workers < 0 || FLAGS_workers > 1024) return FlagError("workers", "must be in 0..1024");
  if (FLAGS_max_connections < 1) return FlagError("max_connections", "must be at least 1");
  if (FLAGS_max_frame_bytes > protocol::kMaxFrameLimit) {
    return FlagError("max_frame_bytes", absl::StrCat("must be at most ", protocol::kMaxFrameLimit));
  }
  if (FLAGS_idle_timeout_ms < 1) return FlagError("idle_timeout_ms", "must be positive");
  if (FLAGS_frame_timeout_ms < 1) return FlagError("frame_timeout_ms", "must be positive");
  if (FLAGS_max_pending_output_bytes < 1) {
    return FlagError("max_pending_output_bytes", "must be positive");
  }
  if (FLAGS_shutdown_grace_ms < 0) return FlagError("shutdown_grace_ms", "must not be negative");
  if (FLAGS_max_frames_per_batch < 1) return FlagError("max_frames_per_batch", "must be positive");

  ServerOptions options;
  options.workers = FLAGS_workers > 0
                        ? FLAGS_workers
                        : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  options.max_connections = FLAGS_max_connections;
  options.max_frame_bytes = FLAGS_max_frame_bytes;
  options.idle_timeout = absl::Milliseconds(FLAGS_idle_timeout_ms);
  options.frame_timeout = absl::Milliseconds(FLAGS_frame_timeout_ms);
  options.max_pending_output_bytes = FLAGS_max_pending_output_bytes;
  options.shutdown_grace = absl::Milliseconds(FLAGS_shutdown_grace_ms);
  options.max_frames_per_batch = FLAGS_max_frames_per_batch;
  return options;
}

}  // namespace server
