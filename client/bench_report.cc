#include "client/bench_report.h"

#include <cstdio>

#include "absl/time/time.h"

namespace client {

void PrintBenchReport(const BenchResult& r, bool json) {
  const double seconds = absl::ToDoubleSeconds(r.elapsed);
  const double rate = seconds > 0 ? r.requests / seconds : 0;
  const double mib = seconds > 0 ? r.bytes / seconds / (1 << 20) : 0;
  auto us = [&r](double p) { return absl::ToDoubleMicroseconds(r.latency.Percentile(p)); };
  if (json) {
    std::printf(
        "{\"requests\":%lld,\"errors\":%lld,\"mismatches\":%lld,\"retries\":%lld,"
        "\"reconnects\":%lld,\"seconds\":%.3f,"
        "\"throughput_rps\":%.0f,\"bandwidth_mib_s\":%.1f,\"latency_us\":{\"p50\":%.1f,"
        "\"p90\":%.1f,\"p99\":%.1f,\"p99_9\":%.1f,\"max\":%.1f}}\n",
        static_cast<long long>(r.requests), static_cast<long long>(r.errors),
        static_cast<long long>(r.mismatches), static_cast<long long>(r.retries),
        static_cast<long long>(r.reconnects), seconds, rate, mib, us(50), us(90), us(99),
        us(99.9), absl::ToDoubleMicroseconds(r.latency.max()));
    return;
  }
  std::printf("requests     %lld in %.2f s\n", static_cast<long long>(r.requests), seconds);
  std::printf("throughput   %.0f requests/s, %.1f MiB/s of payload\n", rate, mib);
  std::printf("latency us   p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f\n", us(50), us(90),
              us(99), us(99.9), absl::ToDoubleMicroseconds(r.latency.max()));
  std::printf("errors       %lld\nmismatches   %lld\n", static_cast<long long>(r.errors),
              static_cast<long long>(r.mismatches));
  if (r.retries > 0 || r.reconnects > 0) {
    std::printf("retries      %lld requests on %lld new connections\n",
                static_cast<long long>(r.retries), static_cast<long long>(r.reconnects));
  }
}

void PrintConnectBenchReport(const ConnectBenchResult& r, bool json) {
  const double seconds = absl::ToDoubleSeconds(r.elapsed);
  const double rate = seconds > 0 ? r.connections / seconds : 0;
  auto us = [&r](double p) { return absl::ToDoubleMicroseconds(r.latency.Percentile(p)); };
  if (json) {
    std::printf("{\"connections\":%lld,\"resumed\":%lld,\"errors\":%lld,\"seconds\":%.3f,"
                "\"connections_per_s\":%.0f,\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f}}\n",
                static_cast<long long>(r.connections), static_cast<long long>(r.resumed),
                static_cast<long long>(r.errors), seconds, rate, us(50), us(99));
  } else {
    std::printf("connections  %lld in %.2f s (%lld TLS sessions resumed)\n",
                static_cast<long long>(r.connections), seconds,
                static_cast<long long>(r.resumed));
    std::printf("rate         %.0f connections/s\n", rate);
    std::printf("latency us   p50 %.0f  p99 %.0f (connect to reply)\nerrors       %lld\n", us(50),
                us(99), static_cast<long long>(r.errors));
  }
}

}  // namespace client
