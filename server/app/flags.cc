#include "server/app/flags.h"

#include <arpa/inet.h>

#include "absl/strings/str_cat.h"
#include "common/cli.h"

namespace {

// The defaults of the flags below: the one source is ServerOptions.
const server::ServerOptions kDefaults;

int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

bool IsAddressLiteral(const char*, const std::string& value) {
  unsigned char address[sizeof(in6_addr)];
  if (inet_pton(AF_INET, value.c_str(), address) == 1 ||
      inet_pton(AF_INET6, value.c_str(), address) == 1) {
    return true;
  }
  return common::internal::RefuseFlag(
      absl::StrCat("'", value, "' is not an IPv4 or IPv6 address literal"));
}

bool IsIoBackend(const char*, const std::string& value) {
  common::IoBackend backend;
  if (common::ParseIoBackend(value, &backend)) return true;
  return common::internal::RefuseFlag(
      absl::StrCat("'", value, "' is not an I/O backend: use epoll or io_uring"));
}

}  // namespace

DEFINE_string(io, std::string(common::IoBackendName(kDefaults.io)),
              "I/O backend of the workers: epoll or io_uring. Where io_uring cannot be set up "
              "(old kernel, seccomp, kernel.io_uring_disabled), the server logs it and uses "
              "epoll.");
DEFINE_validator(io, &IsIoBackend);
DEFINE_string(handler, server::kDefaultHandler,
              "Registered handler that answers requests (see --help's list).");
DEFINE_string(bind, "127.0.0.1", "Address to listen on: an IPv4 or IPv6 literal (e.g. ::1).");
DEFINE_validator(bind, &IsAddressLiteral);
DEFINE_int32(port, 8080, "TCP port to listen on; 0 picks a free port (see --port_file).");
DEFINE_validator(port, (&common::InRange<0, 65535>));
DEFINE_string(port_file, "", "If set, the bound port is written to this file once listening.");
DEFINE_int32(stats_port, -1,
             "If >= 0, also listen on this port (0: any free port) with --stats_handler, so "
             "statistics can be read while --handler serves. -1: no stats listener.");
DEFINE_validator(stats_port, (&common::InRange<-1, 65535>));
DEFINE_string(stats_handler, "stats", "Handler for the --stats_port listener.");
DEFINE_string(stats_port_file, "", "If set, the bound --stats_port is written to this file.");
DEFINE_int32(admin_port, -1,
             "If >= 0, serve HTTP on this port (0: any free port) on --admin_bind's address: "
             "/metrics (Prometheus), /healthz, /readyz, /stats, /connections, /flags, /logging, "
             "/reload. -1: off.");
DEFINE_validator(admin_port, (&common::InRange<-1, 65535>));
DEFINE_string(admin_port_file, "", "If set, the bound --admin_port is written to this file.");
DEFINE_string(admin_bind, "127.0.0.1",
              "Address of the admin port: an IPv4 or IPv6 literal. Loopback by default: the "
              "admin port reloads certificates and changes logging (docs/operations.md).");
DEFINE_validator(admin_bind, &IsAddressLiteral);
DEFINE_string(tls_cert, "",
              "PEM certificate chain: with --tls_key, the data and stats ports speak TLS 1.2/1.3 "
              "only (docs/tls.md). The admin port stays plain HTTP.");
DEFINE_string(tls_key, "", "PEM private key of --tls_cert.");
DEFINE_string(tls_client_ca, "",
              "PEM CA certificates: if set, every TLS client must present a certificate one of "
              "them signed (mutual TLS).");
DEFINE_int64(drain_delay_ms, 0,
             "On SIGTERM: /readyz fails at once, but the server keeps accepting and serving this "
             "long (for a load balancer to notice) before it drains.");
DEFINE_validator(drain_delay_ms, &common::AtLeast<0>);
DEFINE_bool(reuse_port, false,
            "Listen with SO_REUSEPORT, so that a new server can bind the same port while this "
            "one drains (zero-downtime restart, docs/operations.md).");
DEFINE_int32(workers, kDefaults.workers, "Number of worker threads; 0 means one per CPU.");
DEFINE_validator(workers, (&common::InRange<0, 1024>));
DEFINE_int32(max_connections, kDefaults.max_connections,
             "Open connections allowed; beyond this new ones get an error reply and are closed.");
DEFINE_validator(max_connections, &common::AtLeast<1>);
DEFINE_uint32(max_frame_bytes, kDefaults.max_frame_bytes,
              "Largest frame payload accepted or sent; a longer declared length closes the "
              "connection.");
DEFINE_validator(max_frame_bytes, (&common::InRange<0, protocol::kMaxFrameLimit>));
DEFINE_int64(idle_timeout_ms, Millis(kDefaults.idle_timeout),
             "Close a connection with no traffic for this long.");
DEFINE_validator(idle_timeout_ms, &common::AtLeast<1>);
DEFINE_int64(frame_timeout_ms, Millis(kDefaults.frame_timeout),
             "Close a connection whose started frame is not complete within this time.");
DEFINE_validator(frame_timeout_ms, &common::AtLeast<1>);
DEFINE_uint64(max_pending_output_bytes, kDefaults.max_pending_output_bytes,
              "Per connection: above this many unsent reply bytes, stop reading its requests "
              "until the client catches up.");
DEFINE_validator(max_pending_output_bytes, &common::AtLeast<1>);
DEFINE_int64(max_buffer_memory, kDefaults.max_buffer_memory,
             "Server-wide: bytes held for all connections (partial input frames, unsent and held "
             "replies, queued requests). Past it, connections that would grow stop being read and "
             "those holding the most are closed (docs/RELIABILITY.md). At least 1 MiB.");
DEFINE_validator(max_buffer_memory, (&common::AtLeast<1048576>));
DEFINE_int64(shutdown_grace_ms, Millis(kDefaults.shutdown_grace),
             "On SIGINT/SIGTERM: time to answer requests already received before closing.");
DEFINE_validator(shutdown_grace_ms, &common::AtLeast<0>);
DEFINE_int32(max_frames_per_batch, kDefaults.max_frames_per_batch,
             "Fairness: frames answered from one connection before serving the others.");
DEFINE_validator(max_frames_per_batch, &common::AtLeast<1>);
DEFINE_int32(handler_threads, kDefaults.handler_threads,
             "Threads that run the calls handlers offload (Reply::Offload), never on the "
             "workers' loops.");
DEFINE_validator(handler_threads, (&common::InRange<1, 1024>));
DEFINE_int32(max_inflight_per_connection, kDefaults.max_inflight_per_connection,
             "Per connection: with this many requests unanswered, stop reading it until one is "
             "answered.");
DEFINE_validator(max_inflight_per_connection, &common::AtLeast<1>);
DEFINE_int32(max_queued_requests, kDefaults.max_queued_requests,
             "Server-wide: requests waiting for or running on a handler thread. Beyond it a "
             "request gets a RESOURCE_EXHAUSTED error reply at once.");
DEFINE_validator(max_queued_requests, &common::AtLeast<1>);
DEFINE_int64(handler_timeout_ms, Millis(kDefaults.handler_timeout),
             "A request not answered within this gets a DEADLINE_EXCEEDED error reply; 0: no "
             "limit.");
DEFINE_validator(handler_timeout_ms, &common::AtLeast<0>);

namespace server {

service::ActivatedSockets ActivatedSocketsOrExit() {
  absl::StatusOr<service::ActivatedSockets> sockets = service::TakeActivatedSockets();
  if (!sockets.ok()) common::UsageError(sockets.status().message());
  if (!sockets->active()) return *sockets;
  for (const char* flag : {"port", "stats_port", "admin_port"}) {
    if (!gflags::GetCommandLineFlagInfoOrDie(flag).is_default) {
      common::UsageError(absl::StrCat("--", flag,
                                      " given with socket activation (LISTEN_FDS): the sockets "
                                      "named data, stats and admin take the place of the port "
                                      "flags; give one or the other"));
    }
  }
  return *sockets;
}

ServerOptions OptionsFromFlags() {
  ServerOptions options;
  options.workers = FLAGS_workers;
  common::ParseIoBackend(FLAGS_io, &options.io);  // validated above
  options.max_connections = FLAGS_max_connections;
  options.max_frame_bytes = FLAGS_max_frame_bytes;
  options.idle_timeout = absl::Milliseconds(FLAGS_idle_timeout_ms);
  options.frame_timeout = absl::Milliseconds(FLAGS_frame_timeout_ms);
  options.max_pending_output_bytes = FLAGS_max_pending_output_bytes;
  options.max_buffer_memory = FLAGS_max_buffer_memory;
  options.shutdown_grace = absl::Milliseconds(FLAGS_shutdown_grace_ms);
  options.max_frames_per_batch = FLAGS_max_frames_per_batch;
  options.reuse_port = FLAGS_reuse_port;
  options.handler_threads = FLAGS_handler_threads;
  options.max_inflight_per_connection = FLAGS_max_inflight_per_connection;
  options.max_queued_requests = FLAGS_max_queued_requests;
  options.handler_timeout = FLAGS_handler_timeout_ms == 0
                                ? absl::InfiniteDuration()
                                : absl::Milliseconds(FLAGS_handler_timeout_ms);
  return options;
}

}  // namespace server
