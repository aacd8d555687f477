// The server's version, as /metrics reports it (tcp_server_build_info).
#ifndef SERVER_ADMIN_VERSION_H_
#define SERVER_ADMIN_VERSION_H_

namespace server {

inline constexpr char kVersion[] = "0.2.0";

}  // namespace server

#endif  // SERVER_ADMIN_VERSION_H_
