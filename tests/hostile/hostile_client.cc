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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "common/cli.h"
#include "common/latency_histogram.h"
#include "gflags/gflags.h"
#include "tests/hostile/attacks.h"

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

using hostile::Clock;
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

// Set when the server's RSS passed --rss_cap_mb: every attack stops.
std::atomic<bool> rss_cap_reached{false};

void Run(const hostile::Scenario& scenario) {
  const std::string name = scenario.name;
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
    scenario.attack({.port = FLAGS_port,
                     .connections = FLAGS_connections,
                     .churn_cycles = FLAGS_churn_cycles,
                     .stop_early = &rss_cap_reached},
                    attack_start + seconds);
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
  bool ran = false;
  for (const hostile::Scenario& scenario : hostile::Scenarios()) {
    if (FLAGS_scenario == "all" || FLAGS_scenario == scenario.name) {
      Run(scenario);
      ran = true;
    }
  }
  if (!ran) common::UsageError("unknown --scenario " + FLAGS_scenario);
  return 0;
}
