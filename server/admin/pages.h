// The admin port's introspection pages, as text: what /connections, /flags and
// /stats?format=json show. Pure formatting: the server gathers, these lay it out.
//
//   std::string page = ConnectionsPage(server.Connections(limit, timeout, &complete),
//                                      complete, /*json=*/false);
#ifndef SERVER_ADMIN_PAGES_H_
#define SERVER_ADMIN_PAGES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/net/connection_report.h"

namespace server {

// One line per connection (`id=3 worker=0 peer=127.0.0.1:5000 age_ms=12 state=open ...`), or,
// with `json`, {"complete":...,"connections":[...]} with one object per line. `complete`:
// every worker answered in time (else a note says the list may miss some).
std::string ConnectionsPage(const std::vector<ConnectionReport>& connections, bool complete,
                            bool json);

// Every command-line flag with its current value, one `--name=value` a line, by name; a flag
// still at its default says so.
std::string FlagsPage();

// The stats handler's `name value` lines as one JSON object of numbers.
std::string StatsJson(absl::string_view stats_text);

// `text` as a JSON string literal, quotes included.
std::string JsonString(absl::string_view text);

}  // namespace server

#endif  // SERVER_ADMIN_PAGES_H_
