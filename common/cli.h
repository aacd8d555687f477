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

#include <string>
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

}  // namespace common

#endif  // COMMON_CLI_H_
