// The bench modes' reports: a load run's and a connect-rate run's results, as text for a person
// or as one JSON object on one line for a script (--json; the fields are listed in README).
//
//   client::PrintBenchReport(result, /*json=*/false);
#ifndef CLIENT_BENCH_REPORT_H_
#define CLIENT_BENCH_REPORT_H_

#include "client/bench.h"
#include "client/connect_bench.h"

namespace client {

// To stdout.
void PrintBenchReport(const BenchResult& r, bool json);
void PrintConnectBenchReport(const ConnectBenchResult& r, bool json);

}  // namespace client

#endif  // CLIENT_BENCH_REPORT_H_
