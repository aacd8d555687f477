// StableHash(): a 64-bit hash of bytes that is the same in every process, build and release:
// FNV-1a, then splitmix64's finalizer (Mix64) to spread FNV's weak low bits. For what two
// processes must agree on (a proxy's key -> backend, server/upstream/policy/balancer.h);
// absl::Hash would not do, it is seeded per process.
//
//   uint64_t key = common::StableHash("user:42");
//
// Part of the wire contract between proxies: changing a constant remaps nearly every key.
#ifndef COMMON_STABLE_HASH_H_
#define COMMON_STABLE_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace common {

inline uint64_t Fnv1a(absl::string_view bytes) {
  uint64_t h = 14695981039346656037ull;  // the offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;  // the FNV prime
  }
  return h;
}

// splitmix64's finalizer: every input bit reaches every output bit.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline uint64_t StableHash(absl::string_view bytes) { return Mix64(Fnv1a(bytes)); }

}  // namespace common

#endif  // COMMON_STABLE_HASH_H_
