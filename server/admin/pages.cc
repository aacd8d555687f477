#include "server/admin/pages.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"

namespace server {

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string ConnectionsPage(const std::vector<ConnectionReport>& connections, bool complete,
                            bool json) {
  std::string out;
  if (json) {
    absl::StrAppend(&out, "{\"complete\":", complete ? "true" : "false", ",\"connections\":[");
  } else if (!complete) {
    out = "# a worker did not answer in time: its connections are missing\n";
  }
  for (size_t i = 0; i < connections.size(); ++i) {
    const ConnectionReport& c = connections[i];
    if (json) {
      absl::StrAppend(&out, i == 0 ? "\n" : ",\n", "{\"id\":", c.id, ",\"worker\":", c.worker,
                      ",\"peer\":", JsonString(c.peer), ",\"age_ms\":", c.age_ms,
                      ",\"state\":", JsonString(c.state), ",\"bytes_in\":", c.bytes_in,
                      ",\"bytes_out\":", c.bytes_out, ",\"pending_output\":", c.pending_output,
                      ",\"requests_in_flight\":", c.requests_in_flight,
                      ",\"tls\":", c.tls ? "true" : "false",
                      ",\"tls_subject\":", JsonString(c.tls_subject), "}");
    } else {
      absl::StrAppend(&out, "id=", c.id, " worker=", c.worker, " peer=", c.peer,
                      " age_ms=", c.age_ms, " state=", c.state, " bytes_in=", c.bytes_in,
                      " bytes_out=", c.bytes_out, " pending_output=", c.pending_output,
                      " requests_in_flight=", c.requests_in_flight, " tls=", c.tls ? 1 : 0,
                      " tls_subject=", JsonString(c.tls_subject), "\n");
    }
  }
  if (json) out += "\n]}\n";
  return out;
}

std::string FlagsPage() {
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);  // sorted by name
  std::string out;
  for (const gflags::CommandLineFlagInfo& f : flags) {
    absl::StrAppend(&out, "--", f.name, "=", f.current_value,
                    f.is_default ? "  # default\n" : "\n");
  }
  return out;
}

std::string StatsJson(absl::string_view stats_text) {
  std::string out = "{";
  bool first = true;
  for (absl::string_view line : absl::StrSplit(stats_text, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
    int64_t number;
    const bool numeric = absl::SimpleAtoi(kv.second, &number);
    absl::StrAppend(&out, first ? "" : ",", JsonString(kv.first), ":",
                    numeric ? std::string(kv.second) : JsonString(kv.second));
    first = false;
  }
  return out + "}\n";
}

}  // namespace server
