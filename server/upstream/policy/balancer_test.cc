// Balancer's promises: round robin takes turns and skips the unusable, least request prefers
// the less loaded, Maglev hashing keeps keys in place across proxies, orders and membership
// changes (moving about 1/N of them), and sends an ejected backend's keys elsewhere until it
// returns.
#include "server/upstream/policy/balancer.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace server {
namespace upstream {
namespace {

constexpr int kKeys = 30000;

bool All(int) { return true; }
int NoLoad(int) { return 0; }

std::vector<std::string> Names(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(absl::StrCat("10.0.0.", i + 1, ":8080"));
  return names;
}

uint64_t Key(int i) { return HashKey(absl::StrCat("session-", i)); }

// The backend name each of kKeys keys goes to, all backends usable.
std::vector<std::string> Mapping(const std::vector<std::string>& names) {
  auto balancer = MakeBalancer(Balance::kHash, names, 0);
  std::vector<std::string> out;
  for (int k = 0; k < kKeys; ++k) out.push_back(names[balancer->Pick(Key(k), All, NoLoad)]);
  return out;
}

TEST(BalancerTest, ParseBalanceAcceptsTheThreeNames) {
  for (Balance b : {Balance::kRoundRobin, Balance::kLeastRequest, Balance::kHash}) {
    auto parsed = ParseBalance(BalanceName(b));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, b);
  }
  EXPECT_EQ(BalanceName(Balance::kLeastRequest), "least_request");
}

TEST(BalancerTest, ParseBalanceRejectsOthersNamingTheAcceptedValues) {
  for (const char* bad : {"", "random", "RoundRobin", "hash "}) {
    auto parsed = ParseBalance(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    for (const char* name : {"round_robin", "least_request", "hash"}) {
      EXPECT_NE(parsed.status().message().find(name), absl::string_view::npos)
          << parsed.status();
    }
  }
}

// Pinned: two proxies, or two releases of one, must agree. The FNV-1a halves are the
// published test values ("" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c).
TEST(BalancerTest, HashKeyIsTheSameInEveryBuild) {
  EXPECT_EQ(HashKey(""), 0xf52a15e9a9b5e89bull);
  EXPECT_EQ(HashKey("a"), 0x02c0bdbf481420f8ull);
  EXPECT_EQ(HashKey("session-42"), 0x666a265472405471ull);
  EXPECT_EQ(HashKey("10.0.0.1:8080"), 0xe6be330c3d44a2e2ull);
}

TEST(BalancerTest, RoundRobinCyclesAndSkipsUnusable) {
  auto rr = MakeBalancer(Balance::kRoundRobin, Names(3), 0);
  std::vector<int> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(rr->Pick(0, All, NoLoad));
  EXPECT_EQ(picks, (std::vector<int>{0, 1, 2, 0, 1, 2}));

  auto not1 = [](int i) { return i != 1; };
  picks.clear();
  for (int i = 0; i < 4; ++i) picks.push_back(rr->Pick(0, not1, NoLoad));
  EXPECT_EQ(picks, (std::vector<int>{0, 2, 0, 2}));
  EXPECT_EQ(rr->Pick(0, [](int) { return false; }, NoLoad), -1);
}

TEST(BalancerTest, RoundRobinStartsWhereTheSeedSays) {
  auto rr = MakeBalancer(Balance::kRoundRobin, Names(3), 7);  // 7 % 3 == 1
  EXPECT_EQ(rr->Pick(0, All, NoLoad), 1);
  EXPECT_EQ(rr->Pick(0, All, NoLoad), 2);
}

TEST(BalancerTest, NoBackendsPicksNone) {
  for (Balance b : {Balance::kRoundRobin, Balance::kLeastRequest, Balance::kHash}) {
    EXPECT_EQ(MakeBalancer(b, {}, 1)->Pick(Key(1), All, NoLoad), -1) << BalanceName(b);
  }
}

TEST(BalancerTest, LeastRequestPrefersTheLessLoaded) {
  auto lr = MakeBalancer(Balance::kLeastRequest, Names(2), 42);
  auto load = [](int i) { return i == 1 ? 10 : 0; };
  int loaded = 0;
  for (int i = 0; i < 1000; ++i) loaded += lr->Pick(0, All, load) == 1;
  EXPECT_LT(loaded, 50);

  // With 4 backends, the idle one wins whenever it is one of the two drawn: half the picks.
  auto lr4 = MakeBalancer(Balance::kLeastRequest, Names(4), 42);
  auto load4 = [](int i) { return i == 0 ? 0 : 10; };
  int idle = 0;
  for (int i = 0; i < 1000; ++i) idle += lr4->Pick(0, All, load4) == 0;
  EXPECT_GT(idle, 400);
  EXPECT_LT(idle, 600);
}

TEST(BalancerTest, LeastRequestSpreadsEqualLoadAndNeverPicksUnusable) {
  auto lr = MakeBalancer(Balance::kLeastRequest, Names(5), 7);
  auto usable = [](int i) { return i != 2 && i != 4; };
  std::vector<int> count(5, 0);
  for (int i = 0; i < 3000; ++i) {
    const int b = lr->Pick(0, usable, NoLoad);
    ASSERT_GE(b, 0);
    ++count[b];
  }
  EXPECT_EQ(count[2], 0);
  EXPECT_EQ(count[4], 0);
  for (int b : {0, 1, 3}) EXPECT_GT(count[b], 800) << b;

  EXPECT_EQ(lr->Pick(0, [](int i) { return i == 3; }, NoLoad), 3) << "the only usable one";
  EXPECT_EQ(lr->Pick(0, [](int) { return false; }, NoLoad), -1);
}

TEST(BalancerTest, LeastRequestIsDeterministicForASeed) {
  auto a = MakeBalancer(Balance::kLeastRequest, Names(8), 99);
  auto b = MakeBalancer(Balance::kLeastRequest, Names(8), 99);
  auto load = [](int i) { return i % 3; };
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a->Pick(0, All, load), b->Pick(0, All, load));
}

TEST(BalancerTest, HashSendsAKeyToTheSameBackendWhateverTheOrderOfNames) {
  std::vector<std::string> names = Names(5);
  std::vector<std::string> shuffled = {names[3], names[0], names[4], names[2], names[1]};
  EXPECT_EQ(Mapping(names), Mapping(shuffled));

  auto balancer = MakeBalancer(Balance::kHash, names, 0);
  for (int k = 0; k < 100; ++k) {
    EXPECT_EQ(balancer->Pick(Key(k), All, NoLoad), balancer->Pick(Key(k), All, NoLoad));
  }
}

TEST(BalancerTest, HashSpreadsKeysEvenly) {
  std::vector<std::string> names = Names(3);
  std::vector<std::string> mapping = Mapping(names);
  for (const std::string& name : names) {
    const double share = std::count(mapping.begin(), mapping.end(), name) / double{kKeys};
    EXPECT_GT(share, 0.25) << name;
    EXPECT_LT(share, 0.42) << name;
  }
}

TEST(BalancerTest, HashAddingABackendMovesAboutAQuarterOfKeysToIt) {
  std::vector<std::string> three = Names(3);
  std::vector<std::string> four = Names(4);
  std::vector<std::string> before = Mapping(three);
  std::vector<std::string> after = Mapping(four);
  int moved = 0, between_old = 0;
  for (int k = 0; k < kKeys; ++k) {
    if (before[k] == after[k]) continue;
    ++moved;
    between_old += after[k] != four[3];
  }
  EXPECT_GT(moved, 0.15 * kKeys);
  EXPECT_LT(moved, 0.35 * kKeys);
  EXPECT_LE(between_old, 0.01 * kKeys) << "of " << moved << " moved";
}

TEST(BalancerTest, HashRemovingABackendMovesItsKeysAndFewOthers) {
  std::vector<std::string> four = Names(4);
  std::vector<std::string> three = {four[0], four[1], four[3]};  // 10.0.0.3 removed
  std::vector<std::string> before = Mapping(four);
  std::vector<std::string> after = Mapping(three);
  int removed_keys = 0, others_moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    if (before[k] == four[2]) {
      ++removed_keys;
    } else {
      others_moved += before[k] != after[k];
    }
  }
  EXPECT_GT(removed_keys, 0.15 * kKeys);
  EXPECT_LT(removed_keys, 0.35 * kKeys);
  EXPECT_LE(others_moved, 0.01 * kKeys);
}

TEST(BalancerTest, HashAnUnusableBackendsKeysGoElsewhereAndComeBack) {
  std::vector<std::string> names = Names(4);
  auto balancer = MakeBalancer(Balance::kHash, names, 0);
  std::vector<int> home(kKeys);
  for (int k = 0; k < kKeys; ++k) home[k] = balancer->Pick(Key(k), All, NoLoad);

  auto not1 = [](int i) { return i != 1; };
  std::vector<int> stand_in(4, 0);
  for (int k = 0; k < kKeys; ++k) {
    const int b = balancer->Pick(Key(k), not1, NoLoad);
    ASSERT_NE(b, 1);
    ASSERT_GE(b, 0);
    if (home[k] == 1) {
      ++stand_in[b];
      EXPECT_EQ(b, balancer->Pick(Key(k), not1, NoLoad)) << "the stand-in is stable";
    } else {
      EXPECT_EQ(b, home[k]) << "a key of a usable backend moved";
    }
  }
  // Spread over the other three, not piled on one.
  for (int b : {0, 2, 3}) EXPECT_GT(stand_in[b], 1000) << b;

  for (int k = 0; k < kKeys; ++k) ASSERT_EQ(balancer->Pick(Key(k), All, NoLoad), home[k]);
}

// A call retried after failures skips the backends it tried; the sequence ends with -1.
TEST(BalancerTest, HashRetriesVisitEveryBackendOnce) {
  auto balancer = MakeBalancer(Balance::kHash, Names(5), 0);
  for (int k = 0; k < 200; ++k) {
    std::set<int> tried;
    auto untried = [&](int i) { return tried.count(i) == 0; };
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int b = balancer->Pick(Key(k), untried, NoLoad);
      ASSERT_GE(b, 0);
      ASSERT_TRUE(tried.insert(b).second);
    }
    EXPECT_EQ(balancer->Pick(Key(k), untried, NoLoad), -1);
  }
}

TEST(BalancerTest, MaglevTableIsPrimeAndLargeEnough) {
  EXPECT_EQ(MaglevTableSize(1), 65537);
  EXPECT_EQ(MaglevTableSize(655), 65537);
  const int64_t m = MaglevTableSize(1000);
  EXPECT_GE(m, 100000);
  for (int64_t d = 2; d * d <= m; ++d) ASSERT_NE(m % d, 0) << m;
}

}  // namespace
}  // namespace upstream
}  // namespace server
