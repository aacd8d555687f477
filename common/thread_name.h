// NameThisThread: names the calling thread as `top`, `perf` and gdb show it ("worker-0",
// "kv-commit"), so a profile says which thread burns the time. Linux keeps 15 bytes.
//
//   std::thread([] { common::NameThisThread("acceptor"); ... });
#ifndef COMMON_THREAD_NAME_H_
#define COMMON_THREAD_NAME_H_

#include <pthread.h>

#include <string>

#include "absl/strings/string_view.h"

namespace common {

inline void NameThisThread(absl::string_view name) {
  const std::string truncated(name.substr(0, 15));
  (void)pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace common

#endif  // COMMON_THREAD_NAME_H_
