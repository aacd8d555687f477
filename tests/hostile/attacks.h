// The hostile_client's attacks: each plays one kind of hostile or broken client against a
// server on 127.0.0.1 until `end` (or until *stop_early), bounded in count and time.
//
//   hostile::Target target{.port = 8080, .connections = 0, .churn_cycles = 100000,
//                          .stop_early = &stop};
//   for (const hostile::Scenario& s : hostile::Scenarios()) s.attack(target, end);
#ifndef TESTS_HOSTILE_ATTACKS_H_
#define TESTS_HOSTILE_ATTACKS_H_

#include <atomic>
#include <chrono>
#include <vector>

namespace hostile {

using Clock = std::chrono::steady_clock;

struct Target {
  int port = 0;           // the server, on 127.0.0.1
  int connections = 0;    // attacking connections; 0: the scenario's own count
  int churn_cycles = 0;   // connect/reset cycles of "churn"
  const std::atomic<bool>* stop_early = nullptr;  // set: every attack stops at once
};

struct Scenario {
  const char* name;  // slowloris, nonreader, garbage, churn, silent, partial
  void (*attack)(const Target& target, Clock::time_point end);
};

const std::vector<Scenario>& Scenarios();

}  // namespace hostile

#endif  // TESTS_HOSTILE_ATTACKS_H_
