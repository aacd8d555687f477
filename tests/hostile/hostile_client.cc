// hostile_client: attacks a running server the ways a hostile or broken client would, while a
// probe client measures the latency everyone else sees. Loopback only, bounded in count and
// time, stops by itself. Figures go to docs/RELIABILITY.md.
//
//   hostile_client --port=8080 --stats_port=8081 --server_pid=1234 --scenario=all
//
// For each scenario it prints: the probe's p99 with no attack and during the attack, the
// server's peak RSS during the attack, its open descriptors before and after (once the attack
// has ended and the server has closed what it should), and the counters the attack moved.
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "common/cli.h"
#include "common/latency_histogram.h"
#include "gflags/gflags.h"
#include "protocol/buffer.h"
#include "protocol/frame.h"

DEFINE_int32(port, 8080, "Server port on 127.0.0.1.");
DEFINE_int32(stats_port, 8081, "The server's --stats_port.");
DEFINE_int32(server_pid, 0, "The server's process id, for its RSS and descriptors (/proc).");
DEFINE_string(scenario, "all",
              "slowloris, nonreader, garbage, churn, silent, partial (a memory flood), or all.");
DEFINE_int32(connections, 0,
             "Attacking connections; 0 for the scenario's own count (slowloris 1,000, nonreader "
             "100, garbage 100, partial 1,000).");
DEFINE_int64(rss_cap_mb, 8192,
             "Stop the attack early if the server's RSS passes this many MiB (a server without "
             "limits, such as the baseline, would otherwise take the machine down); the report "
             "says so.");
DEFINE_double(attack_s, 20, "How long each attack lasts (churn: until its cycles are done).");
DEFINE_int32(churn_cycles, 100000, "Connect/reset cycles for the churn scenario.");
DEFINE_int32(attacker_nice, 0,
             "Nice value for the attacking thread only (0-19). With the attacker on the same "
             "machine as the server, a high value stands in for an attacker elsewhere: it stops "
             "competing for the CPUs the probe and the server need (the kernel's work for its "
             "traffic still runs on them).");

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kHost = "127.0.0.1";  // never anything else

int64_t ProcField(const std::string& file, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(FLAGS_server_pid) + "/" + file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::strtoll(line.c_str() + field.size(), nullptr, 10);
  }
  return -1;
}
int64_t RssKb() { return ProcField("status", "VmRSS:"); }
int OpenFds() {
  int count = 0;
  if (DIR* d = opendir(("/proc/" + std::to_string(FLAGS_server_pid) + "/fd").c_str())) {
    while (dirent* entry = readdir(d)) count += entry->d_name[0] != '.';
    closedir(d);
  }
  return count;
}

std::map<std::string, int64_t> Stats() {
  std::map<std::string, int64_t> stats;
  auto c = client::Client::Connect(kHost, FLAGS_stats_port, absl::Seconds(5));
  if (!c.ok()) return stats;
  auto reply = (*c)->Call("stats");
  if (!reply.ok() || reply->is_error) return stats;
  for (absl::string_view line : absl::StrSplit(reply->payload, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    int64_t v;
    if (parts.size() == 2 && absl::SimpleAtoi(parts[1], &v)) stats[std::string(parts[0])] = v;
  }
  return stats;
}

// Ping-pong on one connection until `stop`; returns the latency histogram and error count.
struct ProbeResult {
  common::LatencyHistogram::Snapshot latency;
  int errors = 0;
};
ProbeResult Probe(const std::atomic<bool>& stop) {
  ProbeResult result;
  common::LatencyHistogram histogram;
  auto c = client::Client::Connect(kHost, FLAGS_port, absl::Seconds(5));
  while (!stop) {
    if (!c.ok()) {
      ++result.errors;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      c = client::Client::Connect(kHost, FLAGS_port, absl::Seconds(5));
      continue;
    }
    const auto start = Clock::now();
    auto reply = (*c)->Call("probe payload, 32 bytes long....");
    if (!reply.ok() || reply->is_error) {
      ++result.errors;
      c = absl::UnavailableError("reconnect");
      continue;
    }
    histogram.Record(absl::FromChrono(Clock::now() - start));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a steady, light probe
  }
  result.latency = histogram.TakeSnapshot();
  return result;
}

int Connect(bool nonblocking) {
  const int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(FLAGS_port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

void Reset(int fd) {
  const linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

// Set when the server's RSS passed --rss_cap_mb: every attack stops.
std::atomic<bool> rss_cap_reached{false};

bool Expired(Clock::time_point end) { return rss_cap_reached || Clock::now() >= end; }

int Connections(int scenario_default) {
  return FLAGS_connections > 0 ? FLAGS_connections : scenario_default;
}

// 1,000 connections, each sending its frame one byte every 2 s.
void Slowloris(Clock::time_point end) {
  protocol::Buffer frame;
  protocol::AppendFrame(std::string(100, 's'), &frame);
  std::vector<int> fds;
  for (int i = 0; i < Connections(1000); ++i) fds.push_back(Connect(false));
  for (size_t byte = 0; !Expired(end); ++byte) {
    for (int& fd : fds) {
      if (fd < 0) continue;
      if (send(fd, frame.data() + byte % frame.size(), 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
          errno != EAGAIN) {
        close(fd);  // the server closed it (frame timeout): that is the defence working
        fd = -1;
      }
    }
    for (int i = 0; i < 20 && !Expired(end); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int fd : fds) if (fd >= 0) close(fd);
}

// 100 clients pipelining 1 MiB frames and never reading a reply.
void NonReader(Clock::time_point end) {
  protocol::Buffer frame;
  protocol::AppendFrame(std::string(1 << 20, 'n'), &frame);
  std::vector<int> fds;
  std::vector<size_t> offsets(Connections(100), 0);
  for (size_t i = 0; i < offsets.size(); ++i) fds.push_back(Connect(true));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  while (!Expired(end)) {
    for (size_t i = 0; i < fds.size(); ++i) {
      const ssize_t n = send(fds[i], frame.data() + offsets[i], frame.size() - offsets[i],
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) offsets[i] = (offsets[i] + n) % frame.size();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int fd : fds) Reset(fd);
}

// 100 clients sending random bytes, reconnecting whenever the server hangs up.
void Garbage(Clock::time_point end) {
  std::mt19937 rng(1);
  std::vector<int> fds(Connections(100), -1);
  // Drawn from once, so that making garbage does not cost the attacker a core of its own.
  std::string pool(1 << 20, '\0');
  for (char& ch : pool) ch = static_cast<char>(rng());
  while (!Expired(end)) {
    for (int& fd : fds) {
      if (fd < 0) fd = Connect(false);
      if (fd < 0) continue;
      const size_t size = 1 + rng() % 4096;
      if (send(fd, pool.data() + rng() % (pool.size() - size), size, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
          errno != EAGAIN) {
        close(fd);
        fd = -1;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int fd : fds) if (fd >= 0) close(fd);
}

// Connect and reset at once, --churn_cycles times (bounded by --attack_s x 5 as well).
void Churn(Clock::time_point end) {
  const auto hard_end = end + (end - Clock::now()) * 4;
  for (int i = 0; i < FLAGS_churn_cycles && !Expired(hard_end); ++i) {
    const int fd = Connect(false);
    if (fd >= 0) Reset(fd);
  }
}

// 1,000 connections, each declaring a 16,000,000-byte frame, sending its first 15 MiB as fast
// as the server takes them, and then holding: a server that buffers partial frames without a
// server-wide bound holds 15 GB. A connection the server closes stays closed.
void Partial(Clock::time_point end) {
  constexpr uint32_t kDeclared = 16'000'000;
  constexpr size_t kSent = size_t{15} << 20;
  std::string chunk(256 << 10, 'p');
  const uint32_t header = htonl(kDeclared);
  std::vector<int> fds;
  std::vector<size_t> sent(Connections(1000), 0);
  for (size_t i = 0; i < sent.size(); ++i) {
    const int fd = Connect(true);
    if (fd >= 0 && send(fd, &header, sizeof(header), MSG_NOSIGNAL) != sizeof(header)) {
      close(fd);
      fds.push_back(-1);
      continue;
    }
    fds.push_back(fd);
  }
  while (!Expired(end)) {
    bool progress = false;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i] < 0 || sent[i] >= kSent) continue;
      const ssize_t n = send(fds[i], chunk.data(), std::min(chunk.size(), kSent - sent[i]),
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent[i] += n;
        progress = true;
      } else if (n < 0 && errno != EAGAIN) {
        close(fds[i]);  // closed by the server: the budget at work
        fds[i] = -1;
      }
    }
    if (!progress) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int fd : fds) if (fd >= 0) Reset(fd);
}

// One client that connects and says nothing.
void Silent(Clock::time_point end) {
  const int fd = Connect(false);
  while (!Expired(end)) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (fd >= 0) close(fd);
}

void Run(const std::string& name, void (*attack)(Clock::time_point)) {
  std::printf("\n== %s\n", name.c_str());
  const auto seconds = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(FLAGS_attack_s));
  std::atomic<bool> stop{false};

  // Baseline probe, no attack.
  std::thread quiet([&] { std::this_thread::sleep_for(std::chrono::seconds(5)); stop = true; });
  const ProbeResult calm = Probe(stop);
  quiet.join();

  const std::map<std::string, int64_t> before = Stats();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int fds_before = OpenFds();
  std::atomic<int64_t> peak_rss{RssKb()};
  stop = false;
  rss_cap_reached = false;
  std::thread sampler([&] {
    while (!stop) {
      peak_rss = std::max<int64_t>(peak_rss, RssKb());
      if (peak_rss > FLAGS_rss_cap_mb * 1024) rss_cap_reached = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const auto attack_start = Clock::now();
  std::thread attacker([&] {
    if (FLAGS_attacker_nice != 0) setpriority(PRIO_PROCESS, syscall(SYS_gettid), FLAGS_attacker_nice);
    attack(attack_start + seconds);
  });
  std::thread timer([&] { attacker.join(); stop = true; });
  const ProbeResult loud = Probe(stop);
  timer.join();
  sampler.join();
  const double attack_s = std::chrono::duration<double>(Clock::now() - attack_start).count();

  // The server should be back where it was: wait (bounded) for its descriptors to return.
  int fds_after = OpenFds();
  for (int i = 0; i < 150 && fds_after > fds_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fds_after = OpenFds();
  }
  const std::map<std::string, int64_t> after = Stats();

  auto us = [](const common::LatencyHistogram::Snapshot& s, double p) {
    return absl::ToInt64Microseconds(s.Percentile(p));
  };
  std::printf("attack            %.1f s%s\n", attack_s,
              rss_cap_reached ? " (stopped early: server RSS passed --rss_cap_mb)" : "");
  std::printf("probe p99         %lld us without attack, %lld us during (%.2fx); %llu and %llu requests, %d errors\n",
              (long long)us(calm.latency, 99), (long long)us(loud.latency, 99),
              us(calm.latency, 99) ? double(us(loud.latency, 99)) / us(calm.latency, 99) : 0.0,
              (unsigned long long)calm.latency.count(), (unsigned long long)loud.latency.count(),
              calm.errors + loud.errors);
  std::printf("server RSS        %lld KiB peak during (%lld KiB after)\n", (long long)peak_rss.load(),
              (long long)RssKb());
  std::printf("server fds        %d before, %d after\n", fds_before, fds_after);
  std::printf("counters moved   ");
  for (const auto& [key, value] : after) {
    const auto it = before.find(key);
    const int64_t delta = value - (it == before.end() ? 0 : it->second);
    if (delta != 0 && key.rfind("latency", 0) != 0 && key != "uptime_seconds" &&
        key.find("worker_active") == std::string::npos && key != "pending_output_bytes_max") {
      std::printf(" %s=%+lld", key.c_str(), (long long)delta);
    }
  }
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  common::ParseCommandLine(argc, argv, "Usage: hostile_client --port=N --stats_port=N --server_pid=PID [--scenario=all]");
  if (FLAGS_server_pid <= 0) common::UsageError("--server_pid is required");
  if (FLAGS_attack_s <= 0 || FLAGS_attack_s > 120) common::UsageError("--attack_s must be in (0, 120]");
  if (FLAGS_connections < 0 || FLAGS_connections > 20000) common::UsageError("--connections must be in [0, 20000]");
  if (FLAGS_rss_cap_mb < 64) common::UsageError("--rss_cap_mb must be at least 64");
  if (FLAGS_attacker_nice < 0 || FLAGS_attacker_nice > 19) common::UsageError("--attacker_nice must be in [0, 19]");
  const std::vector<std::pair<std::string, void (*)(Clock::time_point)>> scenarios = {
      {"slowloris", Slowloris}, {"nonreader", NonReader}, {"garbage", Garbage},
      {"churn", Churn},         {"silent", Silent},        {"partial", Partial}};
  bool ran = false;
  for (const auto& [name, attack] : scenarios) {
    if (FLAGS_scenario == "all" || FLAGS_scenario == name) {
      Run(name, attack);
      ran = true;
    }
  }
  if (!ran) common::UsageError("unknown --scenario " + FLAGS_scenario);
  return 0;
}
