// The kv handler on a disk that fills up: on a small tmpfs mounted by the test in its own mount
// namespace (so the mount dies with the test process, whatever path the test ends by), SETs fill
// the disk; each one that cannot be made durable is refused RESOURCE_EXHAUSTED naming the path
// and the cause, never acknowledged; GETs go on; the server does not spin; once the tmpfs is
// enlarged, writes succeed again without a restart; the refusals are counted in /metrics; and
// after kill -9, with the disk full or after its recovery, every acknowledged SET is there.
// Also the start-up refusals: a --kv_path on a read-only file system, or under a directory that
// does not exist, exits 2 naming the path.
//
// Mounting needs root (CI runs as root); elsewhere those cases skip, saying so.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

constexpr size_t kValueBytes = 64 << 10;
// A 12 MiB disk holds under 190 values of 64 KiB: the first refusal comes well before this.
constexpr int kMaxSetsToFill = 400;

std::string ValueOf(int i) { return absl::StrCat("value", i, "-", std::string(kValueBytes, 'v')); }

// A tmpfs of `size` (mount(8)'s size=) at a new directory, in a mount namespace of this process
// alone (its children inherit it): unmounted by the destructor, and gone with the process in any
// case. `error()` says why there is none.
class SmallDisk {
 public:
  SmallDisk(const std::string& dir, const std::string& size, bool read_only = false) : dir_(dir) {
    if (::geteuid() != 0) {
      error_ = "mounting a tmpfs needs root (CI runs as root)";
      return;
    }
    // Once per process, while it has one thread (CLONE_NEWNS refuses a threaded process).
    static const std::string private_namespace = [] {
      if (::unshare(CLONE_NEWNS) != 0) return absl::StrCat("unshare: ", std::strerror(errno));
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        return absl::StrCat("making / private: ", std::strerror(errno));
      }
      return std::string();
    }();
    error_ = private_namespace;
    if (!error_.empty()) return;
    ::mkdir(dir_.c_str(), 0755);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", read_only ? MS_RDONLY : 0,
                absl::StrCat("size=", size).c_str()) != 0) {
      error_ = absl::StrCat("mount tmpfs at ", dir_, ": ", std::strerror(errno));
      return;
    }
    mounted_ = true;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }
  // Gives the tmpfs `size`, keeping what it holds.
  bool Resize(const std::string& size) {
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT,
                   absl::StrCat("size=", size).c_str()) == 0;
  }

 private:
  const std::string dir_;
  std::string error_;
  bool mounted_ = false;
};

#define MOUNT_OR_SKIP(disk)                                            \
  if ((disk).error() == "mounting a tmpfs needs root (CI runs as root)") { \
    GTEST_SKIP() << (disk).error();                                   \
  }                                                                    \
  ASSERT_EQ((disk).error(), "")

absl::StatusOr<ServerProcess> StartKv(const std::string& path) {
  return ServerProcess::Start({"--handler=kv", "--kv_path=" + path, "--admin_port=0"});
}

std::string Metrics(int admin_port) {
  httplib::Client http("127.0.0.1", admin_port);
  http.set_connection_timeout(5);
  http.set_read_timeout(10);
  httplib::Result result = http.Get("/metrics");
  return result ? result->body : "<no answer from /metrics>";
}

// The value of the sample whose line starts with `sample` ("name{labels}"), or -1.
double Sample(const std::string& metrics, const std::string& sample) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (absl::ConsumePrefix(&line, sample) && absl::ConsumePrefix(&line, " ")) {
      return std::strtod(std::string(line).c_str(), nullptr);
    }
  }
  return -1;
}

const char kWriteErrors[] =
    "tcp_server_handler_events_total{handler=\"kv\",name=\"write_errors\"}";
const char kWritesRefused[] = "tcp_server_handler_gauge{handler=\"kv\",name=\"writes_refused\"}";

// The server's user + system CPU time so far, in seconds (/proc/pid/stat).
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t end = stat.rfind(')');
  std::vector<std::string> fields = absl::StrSplit(stat.substr(end + 2), ' ');
  // After "pid (comm) ": state is field 0, utime 11, stime 12.
  return (std::atof(fields[11].c_str()) + std::atof(fields[12].c_str())) / sysconf(_SC_CLK_TCK);
}

// SETs of 64 KiB values on `c` until the disk refuses one; records what was acknowledged.
// Returns the refusal's reply.
absl::StatusOr<client::Client::Reply> FillDisk(client::Client& c, int* next,
                                               std::map<std::string, std::string>* acknowledged) {
  for (; *next < kMaxSetsToFill; ++*next) {
    const std::string key = absl::StrCat("k", *next);
    absl::StatusOr<client::Client::Reply> reply = c.Call("SET " + key + " " + ValueOf(*next));
    if (!reply.ok() || reply->payload != "+") {
      ++*next;
      return reply;
    }
    (*acknowledged)[key] = ValueOf(*next);
  }
  return absl::InternalError(absl::StrCat(kMaxSetsToFill, " SETs of 64 KiB fit on a 12 MiB disk"));
}

void ExpectRefusedForSpace(const absl::StatusOr<client::Client::Reply>& reply,
                           const std::string& path) {
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(reply->is_error) << reply->payload;
  EXPECT_THAT(reply->payload, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_THAT(reply->payload, HasSubstr(path));
  EXPECT_THAT(reply->payload, HasSubstr("No space left on device"));
}

// Every key of `acknowledged` on a new connection to `port`: how many are missing or wrong.
int Missing(int port, const std::map<std::string, std::string>& acknowledged) {
  auto c = ConnectTo(port);
  if (c == nullptr) return static_cast<int>(acknowledged.size());
  int missing = 0;
  for (const auto& [key, value] : acknowledged) {
    if (PayloadOf(c->Call("GET " + key)) != "+" + value) ++missing;
  }
  return missing;
}

TEST(KvDiskTest, AFullDiskRefusesWritesKeepsReadsAndRecoversWithoutARestart) {
  const std::string dir = TempPath("full_disk");
  SmallDisk disk(dir, "12m");
  MOUNT_OR_SKIP(disk);
  const std::string path = dir + "/kv";
  ServerProcess server = StartKv(path).value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  std::map<std::string, std::string> acknowledged;
  int next = 0;
  ExpectRefusedForSpace(FillDisk(*c, &next, &acknowledged), path);
  ASSERT_GE(acknowledged.size(), 50u) << "the disk held far less than expected";

  // Full: every SET refused, none acknowledged; GETs answer, on this connection and another.
  for (int i = 0; i < 5; ++i, ++next) {
    ExpectRefusedForSpace(c->Call(absl::StrCat("SET k", next, " ", ValueOf(next))), path);
  }
  EXPECT_EQ(PayloadOf(c->Call("GET k0")), "+" + ValueOf(0));
  // A refused write was withdrawn before its refusal was sent: nothing reads it after that.
  EXPECT_EQ(PayloadOf(c->Call(absl::StrCat("GET k", next - 1))), "-NOT_FOUND");
  EXPECT_EQ(Missing(server.port(), acknowledged), 0) << "of " << acknowledged.size();
  const std::string metrics = Metrics(server.admin_port());
  EXPECT_GE(Sample(metrics, kWriteErrors), 6) << metrics;
  EXPECT_EQ(Sample(metrics, kWritesRefused), 1) << metrics;

  // Not spinning while it waits for space: under half a core over 2 s.
  const double cpu_before = CpuSeconds(server.pid());
  absl::SleepFor(absl::Seconds(2));
  EXPECT_LT(CpuSeconds(server.pid()) - cpu_before, 1.0);

  // Space freed: writes succeed again, with no restart, within RocksDB's 5 s recovery poll (the
  // bound here leaves room for a loaded machine). Until then each SET is refused, never lost.
  ASSERT_TRUE(disk.Resize("256m"));
  const absl::Time freed = absl::Now();
  bool recovered = false;
  while (!recovered && absl::Now() - freed < absl::Seconds(30)) {
    const std::string key = absl::StrCat("k", next);
    absl::StatusOr<client::Client::Reply> reply = c->Call("SET " + key + " " + ValueOf(next));
    ASSERT_TRUE(reply.ok()) << reply.status();
    if (reply->payload == "+") {
      acknowledged[key] = ValueOf(next);
      recovered = true;
    } else {
      ExpectRefusedForSpace(reply, path);
      absl::SleepFor(absl::Milliseconds(100));
    }
    ++next;
  }
  ASSERT_TRUE(recovered) << "writes still refused 30 s after space was freed\n" << server.Log();
  std::cout << "writes accepted again " << absl::Now() - freed << " after space was freed\n";
  EXPECT_EQ(Sample(Metrics(server.admin_port()), kWritesRefused), 0);
  for (int i = 0; i < 20; ++i, ++next) {
    const std::string key = absl::StrCat("k", next);
    ASSERT_EQ(PayloadOf(c->Call("SET " + key + " " + ValueOf(next))), "+");
    acknowledged[key] = ValueOf(next);
  }

  // kill -9 after the recovery: the writes before the fill and after it are all there.
  server.Signal(SIGKILL);
  EXPECT_EQ(server.Wait(), 128 + SIGKILL);
  ServerProcess restarted = StartKv(path).value();
  EXPECT_EQ(Missing(restarted.port(), acknowledged), 0) << "of " << acknowledged.size();
}

TEST(KvDiskTest, EveryAcknowledgedSetSurvivesKillNineWhileTheDiskIsFull) {
  const std::string dir = TempPath("full_disk_kill");
  SmallDisk disk(dir, "12m");
  MOUNT_OR_SKIP(disk);
  const std::string path = dir + "/kv";
  std::map<std::string, std::string> acknowledged;
  {
    ServerProcess server = StartKv(path).value();
    auto c = ConnectTo(server.port());
    ASSERT_NE(c, nullptr);
    int next = 0;
    ExpectRefusedForSpace(FillDisk(*c, &next, &acknowledged), path);
    ExpectRefusedForSpace(c->Call(absl::StrCat("SET k", next, " ", ValueOf(next))), path);
    server.Signal(SIGKILL);
    EXPECT_EQ(server.Wait(), 128 + SIGKILL);
  }
  ASSERT_TRUE(disk.Resize("256m"));
  ServerProcess restarted = StartKv(path).value();
  EXPECT_EQ(Missing(restarted.port(), acknowledged), 0) << "of " << acknowledged.size();
  EXPECT_EQ(CallOnce(restarted.port(), "SET after 1"), "+");
}

TEST(KvDiskTest, AReadOnlyFileSystemExitsTwoAtStartUp) {
  const std::string dir = TempPath("read_only");
  SmallDisk disk(dir, "1m", /*read_only=*/true);
  MOUNT_OR_SKIP(disk);
  for (const std::string& path : {dir, dir + "/kv"}) {
    const auto [status, output] = RunCommand(absl::StrCat(
        RunfilePath("server/server"), " --handler=kv --port=0 --kv_path=", path));
    EXPECT_EQ(status, 2) << output;
    EXPECT_THAT(output, HasSubstr("server: --kv_path: "));
    EXPECT_THAT(output, HasSubstr(path));
    EXPECT_THAT(output, HasSubstr("Read-only file system"));
  }
}

TEST(KvDiskTest, AMissingParentDirectoryExitsTwoAtStartUp) {
  const std::string path = TempPath("no/such/dir/kv");
  const auto [status, output] = RunCommand(absl::StrCat(
      RunfilePath("server/server"), " --handler=kv --port=0 --kv_path=", path));
  EXPECT_EQ(status, 2) << output;
  EXPECT_THAT(output, HasSubstr("server: --kv_path: cannot create " + path));
  EXPECT_THAT(output, HasSubstr("does not exist"));
}

}  // namespace
}  // namespace tests
