// End-to-end tests of the framing path: a real server process on a loopback port, driven by
// clients that pipeline, split frames at every byte and mix frame sizes.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <deque>
#include <random>
#include <thread>
#include <string>
#include <vector>

#include "client/client.h"
#include "gtest/gtest.h"
#include "protocol/buffer.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace tests {
namespace {

using client::Client;

TEST(ServerE2eTest, EchoesAndUppercases) {
  ServerProcess echo = ServerProcess::Start({"--handler=echo"}).value();
  auto c = ConnectTo(echo.port());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(PayloadOf(c->Call("hello")), "hello");
  EXPECT_EQ(PayloadOf(c->Call("")), "");
  EXPECT_EQ(echo.Stop(SIGTERM), 0);

  ServerProcess upper = ServerProcess::Start({"--handler=uppercase"}).value();
  auto u = ConnectTo(upper.port());
  ASSERT_NE(u, nullptr);
  const absl::StatusOr<Client::Reply> reply = u->Call("Mixed case, caf\xc3\xa9!");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_FALSE(reply->is_error);
  EXPECT_EQ(reply->payload, "MIXED CASE, CAF\xc3\xa9!");
}

TEST(ServerE2eTest, ListensOnIpv6Loopback) {
  ServerProcess server = ServerProcess::Start({"--bind=::1"}).value();
  auto c = ConnectTo(server.port(), "::1");
  ASSERT_NE(c, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(PayloadOf(c->Call("over v6")), "over v6");
}

TEST(ServerE2eTest, StreamWrittenOneByteAtATime) {
  ServerProcess server = ServerProcess::Start({}).value();
  auto c = ConnectTo(server.port());
  ASSERT_NE(c, nullptr);
  const std::vector<std::string> payloads = {"abc", "", std::string(1000, 'z'), "end"};
  std::string stream;
  for (const std::string& p : payloads) stream += Frame(p);
  for (char byte : stream) ASSERT_TRUE(c->SendRaw(std::string(1, byte)).ok());
  for (const std::string& p : payloads) EXPECT_EQ(PayloadOf(c->Receive()), p);
}

TEST(ServerE2eTest, FramesSplitAtEveryBoundary) {
  ServerProcess server = ServerProcess::Start({}).value();
  // Bytes the server has read from the test's connections: bytes_in less the 4-byte request of
  // every stats read so far, this one included.
  int stats_reads = 0;
  auto data_bytes_in = [&] {
    absl::StatusOr<std::map<std::string, int64_t>> stats = server.Stats();
    ++stats_reads;
    return stats.ok() ? stats->at("bytes_in") - 4 * stats_reads : -1;
  };
  const std::string stream = Frame("first") + Frame("") + Frame("third frame");
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    auto c = ConnectTo(server.port());
    ASSERT_NE(c, nullptr);
    ASSERT_NE(c, nullptr);
    const int64_t before = data_bytes_in();
    ASSERT_TRUE(c->SendRaw(stream.substr(0, cut)).ok());
    // The server has read the first part before the second is sent: two separate reads.
    ASSERT_TRUE(WaitUntil([&] { return data_bytes_in() == before + static_cast<int64_t>(cut); }))
        << "cut " << cut;
    ASSERT_TRUE(c->SendRaw(stream.substr(cut)).ok());
    EXPECT_EQ(PayloadOf(c->Receive()), "first") << "cut " << cut;
    EXPECT_EQ(PayloadOf(c->Receive()), "") << "cut " << cut;
    EXPECT_EQ(PayloadOf(c->Receive()), "third frame") << "cut " << cut;
  }
}

// Drives many connections at once from one epoll loop: each sends all its frames (pipelined,
// as fast as the socket takes them) while reading replies, and checks every reply byte for
// byte, in order.
class PipelineDriver {
 public:
  PipelineDriver(int port, int connections, int frames_per_connection, uint32_t seed) {
    std::mt19937 rng(seed);
    // Sizes spread evenly over the logarithm of 1..64 KiB (plus empty frames), so small and
    // large frames are both common while the total stays in the hundreds of megabytes.
    std::uniform_real_distribution<double> log_size(0, std::log(65536.0));
    epoll_fd_ = epoll_create1(0);
    for (int i = 0; i < connections; ++i) {
      auto conn = std::make_unique<Conn>();
      conn->client = Client::Connect("127.0.0.1", port, absl::Seconds(30)).value();
      for (int f = 0; f < frames_per_connection; ++f) {
        const size_t size = rng() % 50 == 0 ? 0 : static_cast<size_t>(std::exp(log_size(rng)));
        std::string payload(size, '\0');
        for (char& ch : payload) ch = static_cast<char>(rng());
        protocol::AppendFrame(payload, &conn->output);
        conn->expected.push_back(std::move(payload));
      }
      epoll_event event{};
      event.events = EPOLLIN | EPOLLOUT;
      event.data.ptr = conn.get();
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, conn->client->fd(), &event);
      conns_.push_back(std::move(conn));
    }
  }
  ~PipelineDriver() { close(epoll_fd_); }

  // Returns the number of replies checked; fails the test on any mismatch or stall.
  int64_t Run(absl::Duration timeout) {
    int64_t replies = 0;
    size_t open = conns_.size();
    std::vector<char> buffer(256 << 10);
    const absl::Time deadline = absl::Now() + timeout;
    while (open > 0) {
      if (absl::Now() > deadline) {
        ADD_FAILURE() << "timed out with " << open << " connections unfinished";
        return replies;
      }
      epoll_event events[64];
      const int n = epoll_wait(epoll_fd_, events, 64, 1000);
      for (int i = 0; i < n; ++i) {
        Conn* c = static_cast<Conn*>(events[i].data.ptr);
        const int fd = c->client->fd();
        if ((events[i].events & EPOLLOUT) && !c->output.empty()) {
          const ssize_t w = send(fd, c->output.data(), c->output.size(), MSG_NOSIGNAL);
          if (w > 0) c->output.Consume(w);
          if (c->output.empty()) {
            epoll_event event{};
            event.events = EPOLLIN;
            event.data.ptr = c;
            epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
          }
        }
        if (events[i].events & EPOLLIN) {
          const ssize_t r = read(fd, buffer.data(), buffer.size());
          if (r <= 0) {
            ADD_FAILURE() << "connection closed early";
            return replies;
          }
          c->decoder.Feed(absl::string_view(buffer.data(), r));
          while (true) {
            absl::StatusOr<std::optional<protocol::Frame>> frame = c->decoder.Next();
            if (!frame.ok() || !frame->has_value()) break;
            if (c->expected.empty() || (*frame)->payload != c->expected.front()) {
              ADD_FAILURE() << "reply " << c->replies << " differs from its request";
              return replies;
            }
            c->expected.pop_front();
            ++c->replies;
            ++replies;
          }
          c->decoder.Retain();
          if (c->expected.empty()) {
            epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
            --open;
          }
        }
      }
    }
    return replies;
  }

 private:
  struct Conn {
    std::unique_ptr<Client> client;
    protocol::Buffer output;
    std::deque<std::string> expected;
    protocol::FrameDecoder decoder{{}};
    int replies = 0;
  };
  int epoll_fd_;
  std::vector<std::unique_ptr<Conn>> conns_;
};

TEST(ServerE2eTest, TwoHundredConnectionsPipelineFiveHundredFramesEach) {
  ServerProcess server = ServerProcess::Start({"--workers=2"}).value();
  PipelineDriver driver(server.port(), 200, 500, /*seed=*/20261125);
  EXPECT_EQ(driver.Run(absl::Minutes(5)), 200 * 500);
  const auto stats = server.Stats().value();
  EXPECT_EQ(stats.at("frames_in"), 200 * 500);
  EXPECT_EQ(stats.at("frames_out"), 200 * 500);
  EXPECT_EQ(stats.at("connections_closed_protocol_error"), 0);
}

}  // namespace
}  // namespace tests
