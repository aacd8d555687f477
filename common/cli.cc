#include "common/cli.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "glog/logging.h"

namespace common {
namespace {

std::string program_name = "program";
std::string refused_rule;  // set by a validator that refused the value being parsed

bool IsBoolFlag(const gflags::CommandLineFlagInfo& info) { return info.type == "bool"; }

[[noreturn]] void PrintHelp() {
  std::printf("%s\n\nFlags:\n", gflags::ProgramUsage());
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  for (const gflags::CommandLineFlagInfo& flag : flags) {
    // Only our own flags: glog's and gflags' would bury them.
    if (absl::StrContains(flag.filename, "/usr/") || absl::StrContains(flag.filename, "src/")) {
      continue;
    }
    std::printf("  --%s (%s)\n      %s\n      default: %s\n", flag.name.c_str(), flag.type.c_str(),
                flag.description.c_str(),
                flag.default_value.empty() ? "\"\"" : flag.default_value.c_str());
  }
  std::exit(0);
}

}  // namespace

namespace internal {
bool RefuseFlag(std::string rule) {
  refused_rule = std::move(rule);
  return false;
}
}  // namespace internal

void UsageError(absl::string_view message) {
  std::fprintf(stderr, "%s: %.*s\nTry --help.\n", program_name.c_str(),
               static_cast<int>(message.size()), message.data());
  std::exit(kExitUsage);
}

void RuntimeError(absl::string_view message) {
  std::fprintf(stderr, "%s: %.*s\n", program_name.c_str(), static_cast<int>(message.size()),
               message.data());
  std::exit(1);
}

std::vector<std::string> ParseCommandLine(int argc, char** argv, absl::string_view usage) {
  program_name = argv[0];
  if (const size_t slash = program_name.rfind('/'); slash != std::string::npos) {
    program_name = program_name.substr(slash + 1);
  }
  gflags::SetUsageMessage(std::string(usage));
  FLAGS_logtostderr = true;  // a server's operator reads stderr; --logtostderr=false overrides

  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional.emplace_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    std::string name(arg.substr(0, arg.find('=')));
    const bool has_value = arg.find('=') != absl::string_view::npos;
    std::string value = has_value ? std::string(arg.substr(arg.find('=') + 1)) : "";
    if (name == "help" || name == "helpfull" || name == "h") PrintHelp();

    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
      // --nofoo for a boolean --foo.
      if (!has_value && absl::StartsWith(name, "no") &&
          gflags::GetCommandLineFlagInfo(name.c_str() + 2, &info) && IsBoolFlag(info)) {
        name = name.substr(2);
        value = "false";
      } else {
        UsageError(absl::StrCat("unknown flag --", name));
      }
    } else if (!has_value) {
      if (IsBoolFlag(info)) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        UsageError(absl::StrCat("flag --", name, " needs a value"));
      }
    }
    refused_rule.clear();
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      if (!refused_rule.empty()) UsageError(absl::StrCat("--", name, " ", refused_rule));
      UsageError(absl::StrCat("invalid value '", value, "' for --", name, " (", info.type, ")"));
    }
  }
  google::InitGoogleLogging(argv[0]);
  return positional;
}

}  // namespace common
