// Command-line parsing for the project's binaries, on gflags, with the exit codes users expect.
//
// gflags exits 1 on an unknown flag or a malformed value; our binaries exit 2 for any usage
// error, naming the flag. ParseCommandLine() checks every flag first and sets it through gflags
// only when it is known and its value parses. --help prints gflags' usage for this project.
//
//   int main(int argc, char** argv) {
//     std::vector<std::string> args = common::ParseCommandLine(argc, argv, "Usage: server [flags]");
//     ...
//     if (bad) common::UsageError("--port must be between 0 and 65535");
//   }
#ifndef COMMON_CLI_H_
#define COMMON_CLI_H_

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/string_view.h"

namespace common {

inline constexpr int kExitUsage = 2;

// Parses flags (`--name=value`, `--name value`, `--bool`, `--nobool`; `--` ends the flags) and
// returns the positional arguments. Exits 2 with a message on stderr for an unknown flag or a
// bad value; prints usage and exits 0 for --help. Also starts glog, logging to stderr.
std::vector<std::string> ParseCommandLine(int argc, char** argv, absl::string_view usage);

// Prints "<program>: <message>" and "Try --help." to stderr and exits 2.
[[noreturn]] void UsageError(absl::string_view message);
// Prints "<program>: <message>" to stderr and exits 1: what the environment refused at
// start-up (an address in use, a file that cannot be written).
[[noreturn]] void RuntimeError(absl::string_view message);

// gflags validators that say why they refuse a value, so that ParseCommandLine() exits 2 with
// "--port must be in 0..65535" rather than a bare "invalid value":
//
//   DEFINE_int32(port, 8080, "TCP port.");
//   DEFINE_validator(port, &common::InRange<0, 65535>);
//   DEFINE_validator(workers, &common::AtLeast<1>);
template <int64_t kMin, int64_t kMax, typename T>
bool InRange(const char* flag, T value);
template <int64_t kMin, typename T>
bool AtLeast(const char* flag, T value);

namespace internal {
// Records why the flag being set was refused, for ParseCommandLine's message.
bool RefuseFlag(std::string rule);
}  // namespace internal

// value >= kMin && value <= kMax for any integer type, with no signed/unsigned surprises.
template <int64_t kMin, int64_t kMax, typename T>
constexpr bool Within(T value) {
  if constexpr (std::is_signed_v<T>) {
    return static_cast<int64_t>(value) >= kMin && static_cast<int64_t>(value) <= kMax;
  } else {
    return (kMin <= 0 || static_cast<uint64_t>(value) >= static_cast<uint64_t>(kMin)) &&
           (kMax >= 0 && static_cast<uint64_t>(value) <= static_cast<uint64_t>(kMax));
  }
}

template <int64_t kMin, int64_t kMax, typename T>
bool InRange(const char*, T value) {
  if (Within<kMin, kMax>(value)) return true;
  return internal::RefuseFlag("must be in " + std::to_string(kMin) + ".." + std::to_string(kMax));
}

template <int64_t kMin, typename T>
bool AtLeast(const char*, T value) {
  if (Within<kMin, INT64_MAX>(value)) return true;
  return internal::RefuseFlag("must be at least " + std::to_string(kMin));
}

}  // namespace common

#endif  // COMMON_CLI_H_
