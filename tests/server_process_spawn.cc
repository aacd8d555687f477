// ServerProcess's fork and exec, with the environment and the listening sockets a launcher
// such as systemd passes (socket activation).
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/server_process.h"

extern char** environ;

namespace tests {

absl::StatusOr<std::string> ServerProcess::MakeTempDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir_template = absl::StrCat(tmp ? tmp : "/tmp", "/server.XXXXXX");
  if (mkdtemp(dir_template.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  return dir_template;
}

bool ServerProcess::Running() const {
  if (pid_ <= 0) return false;
  std::ifstream stat(absl::StrCat("/proc/", pid_, "/stat"));
  std::string pid, name, state;
  // "pid (name) state ...": the name has no space for our binaries.
  return (stat >> pid >> name >> state) && state != "Z" && state != "X";
}

absl::StatusOr<ServerProcess> ServerProcess::Spawn(const Launch& launch) {
  absl::StatusOr<std::string> dir = MakeTempDir();
  if (!dir.ok()) return dir.status();
  absl::StatusOr<pid_t> pid = ForkExec(launch, *dir);
  if (!pid.ok()) return pid.status();
  return ServerProcess(*pid, *dir);
}

absl::StatusOr<pid_t> ServerProcess::ForkExec(const Launch& launch, const std::string& dir) {
  // Everything the child needs is prepared before fork(): after it, only async-signal-safe
  // calls. LISTEN_PID's digits are written into its entry by the child, which alone knows them.
  std::vector<std::string> args = launch.argv;
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.insert(env.end(), launch.env.begin(), launch.env.end());
  const int n = static_cast<int>(launch.listen_fds.size());
  int listen_pid_entry = -1;
  if (n > 0) {
    env.push_back(absl::StrCat("LISTEN_FDS=", n));
    if (!launch.listen_fdnames.empty()) env.push_back("LISTEN_FDNAMES=" + launch.listen_fdnames);
    listen_pid_entry = static_cast<int>(env.size());
    env.push_back("LISTEN_PID=" + std::string(20, '\0'));
  }
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string log = dir + "/log";
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
    // Out of the way of 3.. first (closed at exec), then into place (dup2 clears close-on-exec).
    int moved[64];
    for (int i = 0; i < n && i < 64; ++i) moved[i] = fcntl(launch.listen_fds[i], F_DUPFD_CLOEXEC, 100);
    for (int i = 0; i < n && i < 64; ++i) dup2(moved[i], 3 + i);
    if (listen_pid_entry >= 0) {
      char* digits = envp[listen_pid_entry] + sizeof("LISTEN_PID=") - 1;
      char reversed[20];
      int count = 0;
      for (pid_t p = getpid(); p > 0; p /= 10) reversed[count++] = static_cast<char>('0' + p % 10);
      for (int i = 0; i < count; ++i) digits[i] = reversed[count - 1 - i];
      digits[count] = '\0';
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

}  // namespace tests
