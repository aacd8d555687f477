// Connection with a call offloaded to the handler threads (Reply::Offload): it stops reading
// until the call returns, serves what came behind it afterwards, and a client that closes
// meanwhile is answered before the connection closes.
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "common/testing/gate.h"
#include "gtest/gtest.h"
#include "handlers/handler.h"
#include "server/net/connection.h"
#include "server/net/testing/scripted_client.h"

namespace server {
namespace {

using common::testing::Gate;
using testing::Client;
using testing::ConnectionHarness;
using testing::Frame;
using testing::HappensWithin;
using testing::RunWith;

// Offloads a request starting "slow" (its call waits at the gate, then echoes); echoes the rest
// at once. Counts the calls of Handle(), which must not come while a call is offloaded.
class GatedOffload : public handlers::Handler {
 public:
  GatedOffload(Gate* gate, int* handled) : gate_(gate), handled_(handled) {}
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    ++*handled_;
    if (!absl::StartsWith(request, "slow")) {
      reply.Append(request);
      return absl::OkStatus();
    }
    reply.Offload([gate = gate_](absl::string_view request, handlers::Reply& reply) {
      gate->Wait();
      reply.Append(request);
      return absl::OkStatus();
    });
    return absl::OkStatus();
  }

 private:
  Gate* const gate_;
  int* const handled_;
};

class ConnectionOffloadTest : public ::testing::Test {
 protected:
  ~ConnectionOffloadTest() override { gate_.Open(); }  // before the harness stops its pool

  ConnectionHarness::Options Options() {
    ConnectionHarness::Options options;
    options.factory = [this](const handlers::HandlerContext&) {
      return std::make_unique<GatedOffload>(&gate_, &handled_);
    };
    return options;
  }

  Gate gate_;
  int handled_ = 0;  // the loop thread's
};

TEST_F(ConnectionOffloadTest, ReadsNothingMoreUntilTheCallReturnsThenServesTheRest) {
  ConnectionHarness h(Options());
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("now") + Frame("slow") + Frame("after"));
  ASSERT_TRUE(RunWith(h, client, [&] { return c->state() == ConnectionState::kPausedInflight; }));
  EXPECT_FALSE(HappensWithin(h, client, [&] { return handled_ > 2; }))
      << "a request was handled while a call was offloaded";
  EXPECT_EQ(client.received(), Frame("now"));
  EXPECT_FALSE(c->hooks().ready.linked()) << "listed every turn while waiting: a spin";

  gate_.Open();
  const std::string all = Frame("now") + Frame("slow") + Frame("after");
  ASSERT_TRUE(RunWith(h, client, [&] { return client.received() == all; }));
  EXPECT_EQ(handled_, 3);
  EXPECT_EQ(c->state(), ConnectionState::kOpen);
}

TEST_F(ConnectionOffloadTest, AClientThatClosesWhileACallIsOffloadedGetsEveryAnswer) {
  ConnectionHarness h(Options());
  int fd = -1;
  Connection* c = h.Open(&fd);
  Client client(fd);
  client.Send(Frame("slow") + Frame("after"));
  ASSERT_TRUE(RunWith(h, client, [&] { return c->state() == ConnectionState::kPausedInflight; }));
  client.ShutdownWrite();
  // Reading is paused, so the end of the stream waits in the socket; nothing spins meanwhile.
  EXPECT_FALSE(HappensWithin(h, client, [&] { return handled_ > 1 || client.eof(); }));
  EXPECT_FALSE(c->hooks().ready.linked());

  gate_.Open();
  ASSERT_TRUE(RunWith(h, client, [&] { return client.eof(); }));
  EXPECT_EQ(client.received(), Frame("slow") + Frame("after"));
  EXPECT_EQ(h.closed(), 1);
}

}  // namespace
}  // namespace server
