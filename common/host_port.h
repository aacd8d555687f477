// HostPort(): "127.0.0.1:8080" or "[::1]:8080", the one way the project writes an address.
#ifndef COMMON_HOST_PORT_H_
#define COMMON_HOST_PORT_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace common {

inline std::string HostPort(absl::string_view host, int port) {
  return host.find(':') == absl::string_view::npos ? absl::StrCat(host, ":", port)
                                                   : absl::StrCat("[", host, "]:", port);
}

}  // namespace common

#endif  // COMMON_HOST_PORT_H_
