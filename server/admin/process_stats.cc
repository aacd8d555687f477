#include "server/admin/process_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace server {

ProcessStats ReadProcessStats() {
  ProcessStats p;
  if (std::ifstream statm("/proc/self/statm"); statm) {
    int64_t size = 0, resident = 0;
    if (statm >> size >> resident) p.resident_bytes = resident * sysconf(_SC_PAGESIZE);
  }
  if (std::ifstream stat("/proc/self/stat"); stat) {
    std::string line;
    std::getline(stat, line);
    // Fields after the command name, which is in parentheses and may hold spaces.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    int64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {  // field numbers as in proc(5)
      if (i == 14) utime = std::stoll(field);
      if (i == 15) stime = std::stoll(field);
    }
    p.cpu_seconds = static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
  }
  if (DIR* fds = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(fds)) {
      if (entry->d_name[0] != '.') ++p.open_fds;
    }
    closedir(fds);
    --p.open_fds;  // the directory's own descriptor
  }
  return p;
}

}  // namespace server
