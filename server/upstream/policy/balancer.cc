#include "server/upstream/policy/balancer.h"

#include "common/stable_hash.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace server {
namespace upstream {
namespace {

// The hash and the Maglev construction are part of the wire contract between proxies (and
// between releases of one proxy): changing a constant here remaps nearly every key.
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr int64_t kDefaultTableSize = 65537;  // prime
constexpr int kEntriesPerBackend = 100;       // Maglev's M >= 100 N for an even spread

using common::Fnv1a;
using common::Mix64;

bool IsPrime(int64_t n) {
  if (n < 2) return false;
  for (int64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

class RoundRobin final : public Balancer {
 public:
  RoundRobin(int n, uint64_t seed)
      : n_(n), last_(n == 0 ? 0 : static_cast<int>(seed % n) - 1) {}

  int Pick(uint64_t, const std::function<bool(int)>& usable,
           const std::function<int(int)>&) override {
    for (int k = 1; k <= n_; ++k) {
      const int i = ((last_ + k) % n_ + n_) % n_;
      if (usable(i)) {
        last_ = i;
        return i;
      }
    }
    return -1;
  }

 private:
  const int n_;
  int last_;  // the backend picked last; the next pick starts after it
};

class LeastRequest final : public Balancer {
 public:
  LeastRequest(int n, uint64_t seed) : n_(n), state_(seed) {}

  int Pick(uint64_t, const std::function<bool(int)>& usable,
           const std::function<int(int)>& load) override {
    const int a = Draw(usable, -1);
    if (a < 0) return -1;
    const int b = Draw(usable, a);
    if (b < 0) return a;
    // a and b are in random order, so a tie goes to either.
    return load(b) < load(a) ? b : a;
  }

 private:
  // Draws that hit an unusable backend before falling back to a scan: with half the backends
  // out, all of them miss one pick in 256.
  static constexpr int kTries = 8;

  uint64_t Next() {  // splitmix64
    state_ += kGolden;
    return Mix64(state_);
  }
  int Uniform(int n) {
    return static_cast<int>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

  // A uniformly random usable backend other than `exclude`, or -1. Rejection sampling keeps
  // the common pick O(1); the scan bounds the rare one where few backends are usable.
  int Draw(const std::function<bool(int)>& usable, int exclude) {
    if (n_ == 0) return -1;
    for (int t = 0; t < kTries; ++t) {
      const int i = Uniform(n_);
      if (i != exclude && usable(i)) return i;
    }
    candidates_.clear();
    for (int i = 0; i < n_; ++i) {
      if (i != exclude && usable(i)) candidates_.push_back(i);
    }
    if (candidates_.empty()) return -1;
    return candidates_[Uniform(static_cast<int>(candidates_.size()))];
  }

  const int n_;
  uint64_t state_;
  std::vector<int> candidates_;  // kept to spare an allocation per fallback
};

class Maglev final : public Balancer {
 public:
  explicit Maglev(const std::vector<std::string>& names)
      : n_(static_cast<int>(names.size())), m_(MaglevTableSize(names.size())) {
    if (n_ == 0) return;
    // Backends take turns filling the table, so fill in name order: the same names in
    // another order then give the same table.
    by_name_.resize(n_);
    std::iota(by_name_.begin(), by_name_.end(), 0);
    std::sort(by_name_.begin(), by_name_.end(), [&](int a, int b) {
      return std::make_pair(names[a], a) < std::make_pair(names[b], b);
    });
    rank_.resize(n_);
    for (int r = 0; r < n_; ++r) rank_[by_name_[r]] = r;

    // Each backend's preference list is the permutation offset, offset + skip, ... (mod M),
    // complete because M is prime and 0 < skip < M.
    std::vector<uint64_t> offset(n_), skip(n_), next(n_, 0);
    for (int i = 0; i < n_; ++i) {
      const uint64_t h = Fnv1a(names[i]);
      offset[i] = Mix64(h) % m_;
      skip[i] = Mix64(h + kGolden) % (m_ - 1) + 1;
    }
    table_.assign(m_, -1);
    int64_t filled = 0;
    while (true) {
      for (int i : by_name_) {
        uint64_t slot = (offset[i] + next[i] * skip[i]) % m_;
        while (table_[slot] >= 0) {
          ++next[i];
          slot = (offset[i] + next[i] * skip[i]) % m_;
        }
        table_[slot] = i;
        ++next[i];
        if (++filled == m_) return;
      }
    }
  }

  int Pick(uint64_t key, const std::function<bool(int)>& usable,
           const std::function<int(int)>&) override {
    if (n_ == 0) return -1;
    const int home = table_[key % m_];
    if (usable(home)) return home;
    // Probe slots chosen by rehashing the key with an attempt number: deterministic, so the
    // key's stand-in is the same in every proxy, and spread over the other backends in
    // proportion to their share of the table. The home slot is looked at first each time, so
    // the key comes back when its backend does.
    for (uint64_t attempt = 1; attempt <= kProbes; ++attempt) {
      const int b = table_[Mix64(key + attempt * kGolden) % m_];
      if (usable(b)) return b;
    }
    // Few backends usable: walk them in name order from the home one (order-independent too).
    for (int k = 1; k <= n_; ++k) {
      const int b = by_name_[(rank_[home] + k) % n_];
      if (usable(b)) return b;
    }
    return -1;
  }

 private:
  static constexpr uint64_t kProbes = 32;

  const int n_;
  const int64_t m_;
  std::vector<int> table_;    // slot -> backend index
  std::vector<int> by_name_;  // backend indices sorted by name
  std::vector<int> rank_;     // backend index -> position in by_name_
};

}  // namespace

absl::StatusOr<Balance> ParseBalance(absl::string_view name) {
  for (Balance b : {Balance::kRoundRobin, Balance::kLeastRequest, Balance::kHash}) {
    if (name == BalanceName(b)) return b;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown balance policy \"", name, "\"; accepted: round_robin, least_request, hash"));
}

absl::string_view BalanceName(Balance balance) {
  switch (balance) {
    case Balance::kRoundRobin:
      return "round_robin";
    case Balance::kLeastRequest:
      return "least_request";
    case Balance::kHash:
      return "hash";
  }
  return "unknown";
}

uint64_t HashKey(absl::string_view key) { return common::StableHash(key); }

int64_t MaglevTableSize(size_t backends) {
  const int64_t wanted = static_cast<int64_t>(backends) * kEntriesPerBackend;
  if (wanted <= kDefaultTableSize) return kDefaultTableSize;
  int64_t m = wanted + 1;
  while (!IsPrime(m)) ++m;
  return m;
}

std::unique_ptr<Balancer> MakeBalancer(Balance balance, const std::vector<std::string>& backends,
                                       uint64_t seed) {
  const int n = static_cast<int>(backends.size());
  switch (balance) {
    case Balance::kRoundRobin:
      return std::make_unique<RoundRobin>(n, seed);
    case Balance::kLeastRequest:
      return std::make_unique<LeastRequest>(n, seed);
    case Balance::kHash:
      return std::make_unique<Maglev>(backends);
  }
  return nullptr;
}

}  // namespace upstream
}  // namespace server
