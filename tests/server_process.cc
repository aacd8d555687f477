#include "tests/server_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/client.h"

namespace tests {

std::string RunfilePath(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", workspace ? workspace : "tcp_server", "/", path);
}

bool WaitUntil(const std::function<bool()>& check, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return check();
}

namespace {

int ReadIntFile(const std::string& path) {
  std::ifstream in(path);
  int value = 0;
  return (in >> value) ? value : 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<ServerProcess> ServerProcess::Start(std::vector<std::string> flags,
                                                   const std::string& binary,
                                                   std::vector<std::string> env) {
  absl::StatusOr<std::string> made = MakeTempDir();
  if (!made.ok()) return made.status();
  const std::string dir = *made;
  const std::string path = RunfilePath(binary);
  std::vector<std::string> args = {path, "--port=0", "--port_file=" + dir + "/port",
                                   "--stats_port=0", "--stats_port_file=" + dir + "/stats_port"};
  args.insert(args.end(), flags.begin(), flags.end());
  const bool admin = std::any_of(flags.begin(), flags.end(),
                                 [](const std::string& f) { return f.rfind("--admin_port=", 0) == 0; });
  if (admin) args.push_back("--admin_port_file=" + dir + "/admin_port");
  // The I/O backend the test target is for (tests/e2e_test.bzl), unless the test chose one.
  const char* io = std::getenv("TEST_SERVER_IO");
  const bool io_chosen = std::any_of(flags.begin(), flags.end(),
                                     [](const std::string& f) { return f.rfind("--io=", 0) == 0; });
  if (io != nullptr && *io != '\0' && !io_chosen) args.push_back(absl::StrCat("--io=", io));

  absl::StatusOr<pid_t> forked = ForkExec({.argv = std::move(args), .env = std::move(env)}, dir);
  if (!forked.ok()) return forked.status();
  const pid_t pid = *forked;
  ServerProcess process(pid, dir);
  const bool ready = WaitUntil([&] {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      process.pid_ = -1;
      return true;
    }
    return ReadIntFile(dir + "/port") > 0;
  });
  if (process.pid_ < 0 || !ready) {
    return absl::InternalError(absl::StrCat("server did not start: ", process.Log()));
  }
  if (io != nullptr && *io != '\0' && !io_chosen &&
      process.Log().find(absl::StrCat(" io=", io, " ")) == std::string::npos) {
    return absl::FailedPreconditionError(
        absl::StrCat("the server does not run on --io=", io, ": ", process.Log()));
  }
  process.port_ = ReadIntFile(dir + "/port");
  process.stats_port_ = ReadIntFile(dir + "/stats_port");
  process.admin_port_ = admin ? ReadIntFile(dir + "/admin_port") : 0;
  return process;
}

ServerProcess::ServerProcess(ServerProcess&& other) noexcept
    : pid_(other.pid_), dir_(std::move(other.dir_)), port_(other.port_),
      stats_port_(other.stats_port_), admin_port_(other.admin_port_) {
  other.pid_ = -1;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop(SIGKILL, absl::Seconds(5));
}

void ServerProcess::Signal(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

int ServerProcess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  int status = 0;
  const bool exited = WaitUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

absl::StatusOr<std::map<std::string, int64_t>> ServerProcess::Stats() const {
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect("127.0.0.1", stats_port_, absl::Seconds(10));
  if (!c.ok()) return c.status();
  absl::StatusOr<client::Client::Reply> reply = (*c)->Call("");
  if (!reply.ok()) return reply.status();
  if (reply->is_error) return protocol::StatusFromErrorPayload(reply->payload);
  std::map<std::string, int64_t> stats;
  for (absl::string_view line : absl::StrSplit(reply->payload, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    int64_t value = 0;
    if (parts.size() == 2 && absl::SimpleAtoi(parts[1], &value)) {
      stats[std::string(parts[0])] = value;
    }
  }
  return stats;
}

int ServerProcess::OpenFds() const {
  int count = 0;
  if (DIR* d = opendir(absl::StrCat("/proc/", pid_, "/fd").c_str())) {
    while (dirent* entry = readdir(d)) count += entry->d_name[0] != '.';
    closedir(d);
  }
  return count;
}

namespace {

// A "Name:   123 kB" line of /proc/PID/status, in KiB; -1 if absent.
int64_t StatusKb(int pid, absl::string_view name) {
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  const size_t at = status.find(absl::StrCat(name, ":"));
  if (at == std::string::npos) return -1;
  return std::strtoll(status.c_str() + at + name.size() + 1, nullptr, 10);
}

}  // namespace

int64_t ServerProcess::RssKb() const { return StatusKb(pid_, "VmRSS"); }

int64_t ServerProcess::PeakRssKb() const { return StatusKb(pid_, "VmHWM"); }

std::string ServerProcess::Log() const { return ReadFile(dir_ + "/log"); }

std::pair<int, std::string> RunCommand(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0) output.append(chunk, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace tests
