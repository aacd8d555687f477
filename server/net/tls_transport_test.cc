// TlsTransport through the Transport interface: the server's transport against a client
// tls::Stream on the other end of a loopback pair, both driven on the test thread.
#include "server/net/tls_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "common/io_backend.h"
#include "common/log_limiter.h"
#include "gtest/gtest.h"
#include "handlers/handler.h"
#include "server/net/testing/connection_harness.h"
#include "server/net/testing/transport_ends.h"
#include "server/stats/stats.h"
#include "tests/tls_test_util.h"
#include "tls/context.h"
#include "tls/stream.h"

namespace server {
namespace {

using testing::CloseWithReset;
using testing::Ends;
using testing::Frame;
using testing::kScratchBytes;
using testing::ReadExactly;
using testing::RunLoopUntil;
using testing::TakeFrames;
using testing::WaitReadable;
using testing::WriteAll;
using tests::Cert;
using tests::ClientContext;

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loop_.Init(common::IoBackend::kEpoll).ok()); }
  void TearDown() override {
    if (transport_ != nullptr) transport_->Close();
  }

  // Starts both sides: `mutual` makes the server require a client certificate; `identity` is
  // the one the client presents ("" for none).
  void Start(bool mutual, const std::string& identity, size_t scratch_bytes = kScratchBytes) {
    tls::ServerConfig config{.cert_file = Cert("server.pem"),
                             .key_file = Cert("server.key")};
    if (mutual) config.client_ca_file = Cert("ca.pem");
    absl::StatusOr<std::unique_ptr<tls::Context>> server = tls::Context::ForServer(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_context_ = *std::move(server);
    client_context_ = ClientContext(identity);
    ASSERT_NE(client_context_, nullptr);
    scratch_.reset(new char[scratch_bytes]);
    transport_ = TlsTransport::Accept(ends_.binding(), &loop_.poller(), scratch_.get(),
                                      scratch_bytes, *server_context_, {&stats_, &log_, &loop_});
    ASSERT_NE(transport_, nullptr);
    ASSERT_EQ(fcntl(ends_.client, F_SETFL, fcntl(ends_.client, F_GETFL) | O_NONBLOCK), 0);
    client_ = tls::Stream::Connect(*client_context_, ends_.client);
    ASSERT_NE(client_, nullptr);
  }

  // Drives both handshakes to their end; false if either fails or it takes too long.
  bool Handshake() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    bool client_done = false, server_done = false;
    while (absl::Now() < deadline) {
      if (!client_done) {
        const tls::Progress p = client_->Handshake();
        if (p == tls::Progress::kFailed || p == tls::Progress::kEnd) return false;
        client_done = p == tls::Progress::kDone;
      }
      if (!server_done) {
        const Transport::Handshake h = transport_->ContinueHandshake();
        if (h == Transport::Handshake::kFailed) return false;
        server_done = h == Transport::Handshake::kDone;
      }
      if (client_done && server_done) return true;
      pollfd fds[2] = {{ends_.server, POLLIN, 0}, {ends_.client, POLLIN, 0}};
      poll(fds, 2, 100);
    }
    return false;
  }

  // Sends `bytes` through the client's TLS stream.
  bool ClientWrite(absl::string_view bytes) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!bytes.empty() && absl::Now() < deadline) {
      tls::Progress progress;
      const size_t n = client_->Write(bytes.data(), bytes.size(), &progress);
      if (n == 0 && progress != tls::Progress::kWantRead && progress != tls::Progress::kWantWrite) {
        return false;
      }
      bytes.remove_prefix(n);
    }
    return bytes.empty();
  }

  // Reads `n` plain bytes through the client's TLS stream (fewer on failure or timeout).
  std::string ClientRead(size_t n) {
    std::string out;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    char buffer[4096];
    while (out.size() < n && absl::Now() < deadline) {
      tls::Progress progress;
      const size_t got = client_->Read(buffer, std::min(sizeof(buffer), n - out.size()), &progress);
      out.append(buffer, got);
      if (got == 0) {
        if (progress != tls::Progress::kWantRead && progress != tls::Progress::kWantWrite) break;
        WaitReadable(ends_.client, 100);
      }
    }
    return out;
  }

  common::EventLoop loop_;
  WorkerStats stats_;
  common::LogLimiter log_{1000};
  Ends ends_;
  std::unique_ptr<tls::Context> server_context_;
  std::unique_ptr<tls::Context> client_context_;
  std::unique_ptr<char[]> scratch_;
  std::unique_ptr<TlsTransport> transport_;
  std::unique_ptr<tls::Stream> client_;
};

TEST_F(TlsTransportTest, HandshakesThenCarriesARoundTrip) {
  ASSERT_NO_FATAL_FAILURE(Start(/*mutual=*/false, ""));
  EXPECT_FALSE(transport_->handshake_done());
  ASSERT_TRUE(Handshake());
  EXPECT_TRUE(transport_->handshake_done());
  EXPECT_EQ(stats_.tls_handshakes.value(), 1);

  ASSERT_TRUE(ClientWrite(Frame("ping")));
  ASSERT_TRUE(WaitReadable(ends_.server));
  std::vector<std::string> frames;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (frames.empty() && absl::Now() < deadline) {
    const IoResult read = transport_->Read();
    ASSERT_EQ(read.kind, IoResult::kOk);
    frames = TakeFrames(ends_.decoder);
    if (frames.empty()) WaitReadable(ends_.server, 100);
  }
  EXPECT_EQ(frames, (std::vector<std::string>{"ping"}));
  EXPECT_FALSE(transport_->input_pending());
  EXPECT_EQ(transport_->held_bytes(), 0);

  ends_.QueueReply("pong");
  const IoResult written = transport_->Write();
  EXPECT_EQ(written.kind, IoResult::kOk);
  EXPECT_EQ(written.bytes, static_cast<int64_t>(Frame("pong").size()));
  EXPECT_TRUE(ends_.output.empty());
  EXPECT_EQ(ClientRead(Frame("pong").size()), Frame("pong"));
}

// With a read buffer of one record (the least tls::Stream::ReadSome takes) and a frame of two
// records, the second waits inside OpenSSL after the first read: the transport says so (no
// epoll event will), and counts the read-ahead buffer it holds.
TEST_F(TlsTransportTest, InputHeldInsideOpenSslIsPendingAndCounted) {
  ASSERT_NO_FATAL_FAILURE(Start(/*mutual=*/false, "", tls::Stream::kMaxRecordBytes));
  ASSERT_TRUE(Handshake());
  EXPECT_FALSE(transport_->input_pending());
  EXPECT_EQ(transport_->held_bytes(), 0);

  const std::string payload(20000, 'r');
  const std::string frame = Frame(payload);  // two records
  ASSERT_TRUE(ClientWrite(frame));
  // Both records in the server's socket, so that one read(2) of OpenSSL's takes them.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int queued = 0;
  while (absl::Now() < deadline &&
         (ioctl(ends_.server, FIONREAD, &queued) != 0 || queued < static_cast<int>(frame.size()))) {
    WaitReadable(ends_.server, 10);
  }
  ASSERT_GE(queued, static_cast<int>(frame.size()));

  const IoResult read = transport_->Read();
  ASSERT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, static_cast<int64_t>(tls::Stream::kMaxRecordBytes));
  EXPECT_TRUE(transport_->input_pending());
  EXPECT_EQ(transport_->held_bytes(), static_cast<int64_t>(tls::Stream::kReadAheadBytes));
  EXPECT_TRUE(TakeFrames(ends_.decoder).empty());

  const IoResult rest = transport_->Read();  // no socket event needed
  ASSERT_EQ(rest.kind, IoResult::kOk);
  EXPECT_EQ(rest.bytes, static_cast<int64_t>(frame.size() - tls::Stream::kMaxRecordBytes));
  EXPECT_EQ(TakeFrames(ends_.decoder), (std::vector<std::string>{payload}));
  EXPECT_FALSE(transport_->input_pending());
  EXPECT_EQ(transport_->held_bytes(), 0);
}

TEST_F(TlsTransportTest, DescribesTlsWithoutAClientCertificate) {
  ASSERT_NO_FATAL_FAILURE(Start(/*mutual=*/false, ""));
  ASSERT_TRUE(Handshake());
  handlers::ConnectionInfo info;
  transport_->Describe(&info);
  EXPECT_TRUE(info.tls);
  EXPECT_EQ(info.peer_certificate_subject, "");
}

TEST_F(TlsTransportTest, DescribesThePeerSubjectOfAClientCertificate) {
  ASSERT_NO_FATAL_FAILURE(Start(/*mutual=*/true, "client"));
  ASSERT_TRUE(Handshake());
  handlers::ConnectionInfo info;
  transport_->Describe(&info);
  EXPECT_TRUE(info.tls);
  EXPECT_EQ(info.peer_certificate_subject, "O=Example,CN=client-1");
}

TEST_F(TlsTransportTest, CountsAFailedHandshake) {
  ASSERT_NO_FATAL_FAILURE(Start(/*mutual=*/true, ""));  // the server requires a certificate
  EXPECT_FALSE(Handshake());
  EXPECT_EQ(stats_.tls_handshakes.value(), 0);
  EXPECT_EQ(stats_.tls_failed_no_certificate.value(), 1);
}

}  // namespace
}  // namespace server
