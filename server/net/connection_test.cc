#include "server/net/connection.h"

#include <unistd.h>

#include "gtest/gtest.h"
#include "server/net/testing/connection_harness.h"

namespace server {
namespace {

using testing::ConnectionHarness;
using testing::Frame;
using testing::ReadAvailable;
using testing::WriteAll;

TEST(ConnectionTest, AnswersAFrameAndLeavesProbation) {
  ConnectionHarness h;
  int client = -1;
  Connection* c = h.Open(&client);
  EXPECT_EQ(c->state(), ConnectionState::kProbation);
  ASSERT_TRUE(WriteAll(client, Frame("hello")));
  std::string got;
  ASSERT_TRUE(h.RunUntil([&] {
    got += ReadAvailable(client);
    return got.size() >= Frame("hello").size();
  }));
  EXPECT_EQ(got, Frame("hello"));
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
  close(client);
  ASSERT_TRUE(h.RunUntil([&] { return h.freed() == 1; }));
}

}  // namespace
}  // namespace server
