// Counts heap allocations on the server's steady-state echo path: after warm-up, answering a
// frame must not allocate. This is a test that counts, not one that times.
//
// The server runs in this process with the echo handler; every operator new is counted. The
// client side uses a raw socket with buffers made before counting starts, so any allocation
// counted belongs to the server.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <tuple>

#include "gtest/gtest.h"
#include "handlers/echo/echo.h"
#include "protocol/buffer.h"
#include "protocol/frame.h"
#include "server/app/server.h"

namespace {
std::atomic<int64_t> allocations{0};
}  // namespace

void* operator new(size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace {

// Frames per round (1: ping-pong; more: pipelined batches) and the I/O backend.
class AllocationTest : public ::testing::TestWithParam<std::tuple<int, common::IoBackend>> {};

TEST_P(AllocationTest, SteadyStateEchoAllocatesNothingPerFrame) {
  const int frames_per_round = std::get<0>(GetParam());
  server::ServerOptions options;
  options.workers = 1;
  options.io = std::get<1>(GetParam());
  server::Server server(options);
  server.AddListener({"127.0.0.1", 0, {[](const handlers::HandlerContext&) {
                        return std::make_unique<handlers::EchoHandler>();
                      }}});
  ASSERT_TRUE(server.Start().ok());

  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(server.port(0));
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

  protocol::Buffer burst;
  for (int i = 0; i < frames_per_round; ++i) protocol::AppendFrame(std::string(64, 'a' + i % 26), &burst);
  std::string replies(burst.size(), '\0');

  auto round_trip = [&] {
    ASSERT_EQ(send(fd, burst.data(), burst.size(), 0), static_cast<ssize_t>(burst.size()));
    size_t got = 0;
    while (got < replies.size()) {
      const ssize_t n = recv(fd, replies.data() + got, replies.size() - got, 0);
      ASSERT_GT(n, 0);
      got += n;
    }
    ASSERT_EQ(replies, burst.view());
  };

  for (int i = 0; i < 200; ++i) round_trip();  // warm-up: buffers reach their working size
  const int64_t before = allocations.load();
  constexpr int kRounds = 2000;
  for (int i = 0; i < kRounds; ++i) round_trip();
  const int64_t allocated = allocations.load() - before;

  RecordProperty("allocations", static_cast<int>(allocated));
  // On io_uring a reply can come while the previous send is still the kernel's: the output is
  // then pinned and the reply starts a second segment. Its memory is allocated the first time
  // that happens and reused after (OutputQueue's spare), so at most once per connection.
  const int64_t allowed = std::get<1>(GetParam()) == common::IoBackend::kIoUring ? 1 : 0;
  EXPECT_LE(allocated, allowed) << allocated << " allocations for "
                                << kRounds * frames_per_round << " frames";
  close(fd);
  server.Shutdown();
}

INSTANTIATE_TEST_SUITE_P(
    FramesPerRound, AllocationTest,
    ::testing::Combine(::testing::Values(1, 16, 64),
                       ::testing::Values(common::IoBackend::kEpoll, common::IoBackend::kIoUring)));

}  // namespace
