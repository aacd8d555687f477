// ServerProcess: runs a server binary as a child process for end-to-end tests.
//
// Starts it on 127.0.0.1 with --port=0 and waits for the port it reports in --port_file, so
// tests never guess a port. The process is killed when the object goes out of scope, so no
// test leaves a server behind.
//
//   ServerProcess server = ServerProcess::Start({"--handler=echo", "--workers=2"}).value();
//   auto client = client::Client::Connect("127.0.0.1", server.port(), absl::Seconds(5));
//   EXPECT_EQ(server.Stop(SIGTERM), 0);
#ifndef TESTS_SERVER_PROCESS_H_
#define TESTS_SERVER_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tests {

// Path of a binary in this workspace's runfiles, e.g. RunfilePath("server/server").
std::string RunfilePath(const std::string& path);

class ServerProcess {
 public:
  // Starts `binary` (default: the //server binary) with `flags`, plus --port=0, --port_file,
  // --stats_port=0 and --stats_port_file (and --admin_port_file if `flags` set --admin_port),
  // and waits until it is listening.
  // `env`: NAME=VALUE entries added to its environment.
  static absl::StatusOr<ServerProcess> Start(std::vector<std::string> flags,
                                             const std::string& binary = "server/server",
                                             std::vector<std::string> env = {});

  // A process started as given, with no port files read (port() and the like are 0), waiting
  // for nothing; its stderr goes to Log(). As systemd does for socket activation, `listen_fds`
  // become descriptors 3, 4, ... of the child, announced by LISTEN_FDS, LISTEN_PID (the
  // child's pid) and, if not empty, LISTEN_FDNAMES.
  struct Launch {
    std::vector<std::string> argv;  // argv[0]: the program's path
    std::vector<std::string> env;   // NAME=VALUE, added to this process's environment
    std::vector<int> listen_fds;
    std::string listen_fdnames;     // "data:stats:admin"
  };
  static absl::StatusOr<ServerProcess> Spawn(const Launch& launch);
  ServerProcess(ServerProcess&& other) noexcept;
  ServerProcess& operator=(ServerProcess&&) = delete;
  ~ServerProcess();

  int port() const { return port_; }
  int stats_port() const { return stats_port_; }
  int admin_port() const { return admin_port_; }
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits up to `timeout` for the exit; see Wait().
  int Stop(int signal, absl::Duration timeout = absl::Seconds(20)) {
    Signal(signal);
    return Wait(timeout);
  }
  void Signal(int signal);
  // Whether it has not exited yet (a zombie has).
  bool Running() const;
  // Waits up to `timeout` for the exit. Returns the exit status, 128 + the signal number if it
  // died of a signal, or -1 if it did not exit in time (it is then killed).
  int Wait(absl::Duration timeout = absl::Seconds(20));

  // Reads the stats listener: name -> value.
  absl::StatusOr<std::map<std::string, int64_t>> Stats() const;

  // From /proc: descriptors the server has open, and its resident memory.
  int OpenFds() const;
  int64_t RssKb() const;
  // The most resident memory it has had since it started (VmHWM), in KiB.
  int64_t PeakRssKb() const;

  // Everything the server wrote to stderr so far.
  std::string Log() const;

 private:
  ServerProcess(pid_t pid, std::string dir) : pid_(pid), dir_(std::move(dir)) {}
  // The fork and exec of Spawn(), with stderr to `dir`/log.
  static absl::StatusOr<pid_t> ForkExec(const Launch& launch, const std::string& dir);
  static absl::StatusOr<std::string> MakeTempDir();

  pid_t pid_ = -1;
  std::string dir_;  // temporary directory with the port files and the log
  int port_ = 0;
  int stats_port_ = 0;
  int admin_port_ = 0;
};

// Runs a shell command and returns its exit status and its output (stdout and stderr).
std::pair<int, std::string> RunCommand(const std::string& command);

// Retries `check` every 10 ms until it returns true or `timeout` passes.
bool WaitUntil(const std::function<bool()>& check, absl::Duration timeout = absl::Seconds(10));

}  // namespace tests

#endif  // TESTS_SERVER_PROCESS_H_
