// Balancer: which backend of an upstream a call goes to.
//
// Three policies, chosen by name in the configuration:
//   - round_robin: each backend in turn;
//   - least_request: the less loaded of two backends drawn at random ("power of two
//     choices"), which avoids both the herd a global least-loaded pick sends to a backend that
//     just came back and the O(N) scan;
//   - hash: Maglev consistent hashing (Eisenbud et al., NSDI 2016), so that a key (a session,
//     a user) keeps going to one backend, the same one in every proxy and every build, and
//     adding or removing a backend moves about 1/N of the keys.
//
// The balancer knows only indices into the list it was built from. The pool says, on each
// pick, which backends may be used now (not ejected, not already tried by this call) and how
// many calls each has in flight:
//
//   ASSIGN_OR_RETURN(Balance balance, ParseBalance(flag));
//   std::unique_ptr<Balancer> balancer = MakeBalancer(balance, names, seed);
//   int i = balancer->Pick(HashKey(session_id),
//                          [&](int b) { return !pool[b].ejected(now) && !tried[b]; },
//                          [&](int b) { return pool[b].in_flight(); });
//   if (i < 0) return absl::UnavailableError("no usable backend");
//
// Not thread-safe: one per worker loop. Builds no socket and reads no clock.
#ifndef SERVER_UPSTREAM_POLICY_BALANCER_H_
#define SERVER_UPSTREAM_POLICY_BALANCER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace server {
namespace upstream {

enum class Balance { kRoundRobin, kLeastRequest, kHash };

// "round_robin", "least_request", "hash"; InvalidArgument naming the accepted values otherwise.
absl::StatusOr<Balance> ParseBalance(absl::string_view name);
absl::string_view BalanceName(Balance balance);

// A stable 64-bit hash of a key: common::StableHash (common/stable_hash.h), the same in every
// process and build, so that two proxies send a key to the same backend.
uint64_t HashKey(absl::string_view key);

class Balancer {
 public:
  virtual ~Balancer() = default;

  // The backend (index into the list given at construction) for a call. `key`: used by kHash
  // only (pass HashKey() of the affinity key). `usable(i)`: false for backends not to be
  // picked now (ejected, or already tried by this call). `load(i)`: calls in flight on
  // backend i (kLeastRequest only). Returns -1 if no backend is usable.
  virtual int Pick(uint64_t key, const std::function<bool(int)>& usable,
                   const std::function<int(int)>& load) = 0;
};

// `backends`: the names ("host:port") in order; kHash builds its table from the names, so the
// same names give the same mapping whatever their order. `seed`: for the random choices of
// kLeastRequest (deterministic in tests), and where kRoundRobin starts (seed % N), so that
// workers given different seeds do not all send their first call to backend 0.
std::unique_ptr<Balancer> MakeBalancer(Balance balance, const std::vector<std::string>& backends,
                                       uint64_t seed);

// The size of kHash's Maglev table for `backends` backends: the prime 65537 up to 655
// backends (Maglev wants at least 100 entries per backend for an even spread), the first
// prime above 100 per backend beyond. Fixed over that range on purpose: a table of another
// size would remap nearly every key.
int64_t MaglevTableSize(size_t backends);

}  // namespace upstream
}  // namespace server

#endif  // SERVER_UPSTREAM_POLICY_BALANCER_H_
