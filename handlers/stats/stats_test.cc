#include "handlers/stats/stats.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "handlers/handler_testing.h"

namespace handlers {
namespace {

class FakeStats : public StatsSource {
 public:
  std::vector<Stat> Snapshot() const override {
    return {{"uptime_seconds", 7}, {"frames_in", 42}, {"worker_active_connections{worker=\"0\"}", 3}};
  }
};

TEST(StatsHandlerTest, FormatsOneNameValueLinePerStat) {
  FakeStats stats;
  StatsHandler handler(&stats);
  EXPECT_EQ(*HandleToString(handler, "anything"),
            "uptime_seconds 7\nframes_in 42\nworker_active_connections{worker=\"0\"} 3\n");
}

TEST(StatsHandlerTest, WithoutAStatsSourceItFails) {
  StatsHandler handler(nullptr);
  EXPECT_EQ(HandleToString(handler, "").status().code(), absl::StatusCode::kUnavailable);
}

TEST(StatsHandlerTest, RegistersAsStatsAndUsesTheContextsSource) {
  FakeStats stats;
  const absl::StatusOr<std::string> text = HandleWithRegistered("stats", "", HandlerContext{&stats});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_NE(text->find("frames_in 42\n"), std::string::npos);
}

}  // namespace
}  // namespace handlers
