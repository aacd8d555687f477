// UpstreamConfig and Upstreams' resolver: options checked, names resolved again, a name that
// stops resolving keeps its address.
#include "server/upstream/upstream_config.h"

#include <netinet/in.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/upstream/upstreams.h"

namespace server {
namespace upstream {
namespace {

int PortOf(const Address& address) {
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_port);
}

// Names to 127.0.0.1:<port>, changeable while a resolver thread reads them.
class FakeDns {
 public:
  void Set(const std::string& name, int port) {
    std::lock_guard<std::mutex> lock(mu_);
    ports_[name] = port;
  }
  int lookups() const { return lookups_.load(); }
  UpstreamConfig::Resolver resolver() {
    return [this](absl::string_view name) -> absl::StatusOr<Address> {
      ++lookups_;
      std::lock_guard<std::mutex> lock(mu_);
      auto it = ports_.find(std::string(name));
      if (it == ports_.end()) return absl::NotFoundError("no such name");
      Address address;
      auto* in = reinterpret_cast<sockaddr_in*>(&address.storage);
      in->sin_family = AF_INET;
      in->sin_port = htons(static_cast<uint16_t>(it->second));
      in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.length = sizeof(sockaddr_in);
      return address;
    };
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> ports_;
  std::atomic<int> lookups_{0};
};

handlers::UpstreamOptions Options(std::vector<std::string> backends) {
  handlers::UpstreamOptions options;
  options.name = "cache";
  options.backends = std::move(backends);
  return options;
}

TEST(UpstreamConfigTest, BadOptionsAreRefusedNamingWhat) {
  EXPECT_FALSE(UpstreamConfig::Make(Options({})).ok());
  EXPECT_FALSE(UpstreamConfig::Make(Options({"no-port"})).ok());
  EXPECT_FALSE(UpstreamConfig::Make(Options({"127.0.0.1:99999"})).ok());
  handlers::UpstreamOptions bad_name = Options({"127.0.0.1:1"});
  bad_name.name = "Cache!";
  EXPECT_FALSE(UpstreamConfig::Make(bad_name).ok());
  handlers::UpstreamOptions bad_balance = Options({"127.0.0.1:1"});
  bad_balance.balance = "random";
  absl::StatusOr<std::unique_ptr<UpstreamConfig>> config = UpstreamConfig::Make(bad_balance);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("round_robin"), absl::string_view::npos)
      << config.status();
  EXPECT_TRUE(UpstreamConfig::Make(Options({"127.0.0.1:1", "[::1]:2"})).ok());
}

TEST(UpstreamConfigTest, HealthChecksAreNoneOrAtLeastTenMilliseconds) {
  handlers::UpstreamOptions options = Options({"127.0.0.1:1"});
  EXPECT_TRUE(UpstreamConfig::Make(options).ok()) << "none by default";
  for (absl::Duration every : {absl::Milliseconds(5), absl::Milliseconds(-1)}) {
    options.health_check_every = every;
    absl::StatusOr<std::unique_ptr<UpstreamConfig>> config = UpstreamConfig::Make(options);
    ASSERT_FALSE(config.ok()) << every;
    EXPECT_NE(config.status().message().find("health_check_every"), absl::string_view::npos);
  }
  options.health_check_every = absl::Milliseconds(10);
  EXPECT_TRUE(UpstreamConfig::Make(options).ok());
  options.health_check_timeout = absl::ZeroDuration();
  EXPECT_FALSE(UpstreamConfig::Make(options).ok());
}

TEST(UpstreamConfigTest, NamesAreResolvedAgainAndANameThatFailsKeepsItsAddress) {
  FakeDns dns;
  dns.Set("cache-a:7000", 7001);
  dns.Set("127.0.0.1:7100", 7100);  // at start every backend goes through the resolver
  absl::StatusOr<std::unique_ptr<UpstreamConfig>> made =
      UpstreamConfig::Make(Options({"cache-a:7000", "127.0.0.1:7100"}), dns.resolver());
  ASSERT_TRUE(made.ok()) << made.status();
  const UpstreamConfig& config = **made;
  EXPECT_TRUE(config.backends()[0].by_name);
  EXPECT_FALSE(config.backends()[1].by_name) << "an IP literal is never looked up again";
  EXPECT_EQ(PortOf(config.backends()[0].address()), 7001);
  EXPECT_EQ(config.ResolveAgain(), 0) << "nothing changed";

  dns.Set("cache-a:7000", 7002);
  const int lookups = dns.lookups();
  EXPECT_EQ(config.ResolveAgain(), 1);
  EXPECT_EQ(dns.lookups(), lookups + 1) << "only the name";
  EXPECT_EQ(PortOf(config.backends()[0].address()), 7002);

  bool failing = false;  // from when it is set, every lookup fails
  absl::StatusOr<std::unique_ptr<UpstreamConfig>> kept = UpstreamConfig::Make(
      Options({"cache-a:7000"}), [&](absl::string_view name) -> absl::StatusOr<Address> {
        if (failing) return absl::UnavailableError("the name server does not answer");
        return dns.resolver()(name);
      });
  ASSERT_TRUE(kept.ok());
  failing = true;
  EXPECT_EQ((*kept)->ResolveAgain(), 0);
  EXPECT_EQ(PortOf((*kept)->backends()[0].address()), 7002) << "the last address stays";
  EXPECT_EQ((*kept)->counters().resolve_failures.load(), 1);
}

TEST(UpstreamsTest, TheResolverThreadLooksNamesUpEveryPeriodAndStopsAtOnce) {
  FakeDns dns;
  dns.Set("cache-a:7000", 7001);
  Upstreams upstreams;
  handlers::UpstreamOptions options = Options({"cache-a:7000"});
  options.resolve_every = absl::Milliseconds(10);
  ASSERT_TRUE(upstreams.Add(options, dns.resolver()).ok());
  const int at_start = dns.lookups();
  upstreams.StartResolving();
  dns.Set("cache-a:7000", 7005);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (PortOf(upstreams.config(0).backends()[0].address()) != 7005 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));  // polling a condition, bounded
  }
  EXPECT_EQ(PortOf(upstreams.config(0).backends()[0].address()), 7005);
  EXPECT_GT(dns.lookups(), at_start);
  const absl::Time stopping = absl::Now();
  upstreams.StopResolving();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(1)) << "woken, not waiting out its period";
}

}  // namespace
}  // namespace upstream
}  // namespace server
