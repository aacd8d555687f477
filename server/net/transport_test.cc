// Each transport through the Transport interface, over a loopback TCP pair, with a fake
// connection (RecordingEvents) and a real decoder and output queue.
#include "server/net/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "common/io_backend.h"
#include "common/log_limiter.h"
#include "gtest/gtest.h"
#include "handlers/handler.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "protocol/output_queue.h"
#include "server/net/raw_transport.h"
#include "server/net/testing/connection_harness.h"
#include "server/net/tls_transport.h"
#include "server/net/uring_transport.h"
#include "server/stats/stats.h"
#include "tests/tls_test_util.h"
#include "tls/context.h"
#include "tls/stream.h"

namespace server {
namespace {

using testing::Frame;
using testing::LoopbackPair;
using testing::WriteAll;
using tests::Cert;
using tests::ClientContext;

constexpr size_t kScratchBytes = 256 << 10;

// Reads exactly `n` bytes from a blocking socket (what comes short of them at its end).
std::string ReadExactly(int fd, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    const ssize_t r = recv(fd, out.data() + got, n - got, 0);
    if (r <= 0) break;
    got += r;
  }
  out.resize(got);
  return out;
}

// Waits (bounded) until `fd` is readable; false on timeout.
bool WaitReadable(int fd, int timeout_ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

// Closes `fd` with a reset (SO_LINGER 0) instead of a FIN.
void CloseWithReset(int fd) {
  linger no_linger{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
  close(fd);
}

// Takes every complete frame the decoder holds.
std::vector<std::string> TakeFrames(protocol::FrameDecoder& decoder) {
  std::vector<std::string> frames;
  while (true) {
    absl::StatusOr<std::optional<protocol::Frame>> frame = decoder.Next();
    if (!frame.ok() || !frame->has_value()) break;
    frames.emplace_back((*frame)->payload);
  }
  decoder.Retain();
  return frames;
}

// The connection's part, recorded.
class RecordingEvents : public TransportEvents {
 public:
  void OnTransportReady(bool readable, bool writable, bool failed) override {
    readable_ += readable;
    writable_ += writable;
    failed_ += failed;
  }
  int readable() const { return readable_; }
  int writable() const { return writable_; }
  int failed() const { return failed_; }

 private:
  int readable_ = 0;
  int writable_ = 0;
  int failed_ = 0;
};

// One connection's ends and buffers: what a Connection binds its transport to.
struct Ends {
  explicit Ends(size_t segment_bytes = protocol::OutputQueue::kSegmentBytes)
      : output(segment_bytes) {
    std::tie(server, client) = LoopbackPair();
  }
  ~Ends() {
    if (server >= 0) close(server);
    if (client >= 0) close(client);
  }
  Transport::Binding binding() { return {server, &events, &decoder, &output}; }
  void QueueReply(absl::string_view payload) {
    protocol::AppendFrame(payload, &output.BufferForNextReply());
  }

  int server = -1;
  int client = -1;
  RecordingEvents events;
  protocol::FrameDecoder decoder{{.max_frame_bytes = 1 << 20}};
  protocol::OutputQueue output;
};

// Runs loop turns until `done`, bounded; false on timeout.
bool RunLoopUntil(common::EventLoop& loop, const std::function<bool()>& done,
                  absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    loop.RunOnce(10);
  }
  return true;
}

class RawTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loop_.Init(common::IoBackend::kEpoll).ok()); }

  common::EventLoop loop_;
  Ends ends_;
  std::unique_ptr<char[]> scratch_{new char[kScratchBytes]};
  RawTransport transport_{ends_.binding(), &loop_.poller(), scratch_.get(), kScratchBytes};
};

TEST_F(RawTransportTest, ReadsWhatThePeerSentIntoTheDecoder) {
  const std::string hello = Frame("hello");
  ASSERT_TRUE(WriteAll(ends_.client, hello.substr(0, 3)));
  ASSERT_TRUE(WaitReadable(ends_.server));
  IoResult read = transport_.Read();
  EXPECT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, 3);
  EXPECT_TRUE(TakeFrames(ends_.decoder).empty());  // a frame split across reads waits

  ASSERT_TRUE(WriteAll(ends_.client, hello.substr(3) + Frame("x")));
  ASSERT_TRUE(WaitReadable(ends_.server));
  read = transport_.Read();
  EXPECT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, static_cast<int64_t>(hello.size() - 3 + Frame("x").size()));
  EXPECT_EQ(TakeFrames(ends_.decoder), (std::vector<std::string>{"hello", "x"}));

  read = transport_.Read();  // nothing more there
  EXPECT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, 0);
}

TEST(RawTransportSegmentsTest, WritesAnOutputQueueOfManySegmentsInOneCall) {
  common::EventLoop loop;
  ASSERT_TRUE(loop.Init(common::IoBackend::kEpoll).ok());
  Ends ends(/*segment_bytes=*/64);  // a segment per reply
  std::unique_ptr<char[]> scratch(new char[kScratchBytes]);
  RawTransport transport(ends.binding(), &loop.poller(), scratch.get(), kScratchBytes);
  std::string expected;
  for (int i = 0; i < 12; ++i) {
    const std::string payload(100, static_cast<char>('a' + i));
    ends.QueueReply(payload);
    expected += Frame(payload);
  }
  absl::string_view parts[16];
  ASSERT_EQ(ends.output.Peek(parts, 16), 12);

  const IoResult written = transport.Write();
  EXPECT_EQ(written.kind, IoResult::kOk);
  EXPECT_EQ(written.bytes, static_cast<int64_t>(expected.size()));
  EXPECT_TRUE(ends.output.empty());
  EXPECT_EQ(ReadExactly(ends.client, expected.size()), expected);
  transport.Close();
}

TEST_F(RawTransportTest, ReportsEndAtEndOfStream) {
  ASSERT_TRUE(WriteAll(ends_.client, Frame("last")));
  ASSERT_EQ(shutdown(ends_.client, SHUT_WR), 0);
  ASSERT_TRUE(WaitReadable(ends_.server));
  EXPECT_EQ(transport_.Read().kind, IoResult::kOk);  // the bytes before the end come first
  EXPECT_EQ(TakeFrames(ends_.decoder), (std::vector<std::string>{"last"}));
  const IoResult read = transport_.Read();
  EXPECT_EQ(read.kind, IoResult::kEnd);
}

TEST_F(RawTransportTest, ReportsErrorAfterAReset) {
  CloseWithReset(ends_.client);
  ends_.client = -1;
  ASSERT_TRUE(WaitReadable(ends_.server));
  const IoResult read = transport_.Read();
  EXPECT_EQ(read.kind, IoResult::kError);
  EXPECT_EQ(read.error, ECONNRESET);
}

TEST_F(RawTransportTest, WaitRegistersInterestSoThatEventsReachTheConnection) {
  ASSERT_TRUE(transport_.Wait(/*read=*/false, /*write=*/false).ok());
  ASSERT_TRUE(WriteAll(ends_.client, Frame("ping")));
  ASSERT_TRUE(WaitReadable(ends_.server));
  loop_.RunOnce(50);  // readable, but no interest: nothing is delivered
  EXPECT_EQ(ends_.events.readable(), 0);

  ASSERT_TRUE(transport_.Wait(/*read=*/true, /*write=*/false).ok());
  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return ends_.events.readable() > 0; }));
  EXPECT_EQ(ends_.events.writable(), 0);
  EXPECT_EQ(transport_.Read().kind, IoResult::kOk);
  EXPECT_EQ(TakeFrames(ends_.decoder), (std::vector<std::string>{"ping"}));

  ASSERT_TRUE(transport_.Wait(/*read=*/false, /*write=*/true).ok());
  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return ends_.events.writable() > 0; }));
  transport_.Close();
}

// TLS: the server's transport against a client tls::Stream on the other end, both driven on
// the test thread.
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

// io_uring: completions instead of readiness, on a loop of that backend.
class UringTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop_.Init(common::IoBackend::kIoUring).ok());
    if (loop_.backend() != common::IoBackend::kIoUring) {
      GTEST_SKIP() << "io_uring cannot be set up here (the loop fell back to epoll)";
    }
    loop_.RunOnce(0);  // the ring's one submitter is this thread from now on
    transport_ = std::make_unique<UringTransport>(ends_.binding(), loop_.uring());
  }
  void TearDown() override {
    if (transport_ == nullptr) return;
    transport_->Close();
    // The kernel may still hold its operations: it must live until they end.
    EXPECT_TRUE(RunLoopUntil(loop_, [&] { return transport_->idle(); }));
  }

  common::EventLoop loop_;
  Ends ends_;
  std::unique_ptr<UringTransport> transport_;
};

TEST_F(UringTransportTest, ReceivesByCompletionIntoTheDecoder) {
  ASSERT_TRUE(transport_->Wait(/*read=*/true, /*write=*/false).ok());
  ASSERT_TRUE(WriteAll(ends_.client, Frame("hello")));
  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return ends_.events.readable() > 0; }));
  // The bytes are in the decoder already, kept beyond the ring's buffer.
  EXPECT_EQ(TakeFrames(ends_.decoder), (std::vector<std::string>{"hello"}));
  EXPECT_TRUE(transport_->input_pending());
  IoResult read = transport_->Read();
  EXPECT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, static_cast<int64_t>(Frame("hello").size()));
  EXPECT_FALSE(transport_->input_pending());
  read = transport_->Read();  // reported once
  EXPECT_EQ(read.kind, IoResult::kOk);
  EXPECT_EQ(read.bytes, 0);

  ASSERT_EQ(shutdown(ends_.client, SHUT_WR), 0);
  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return transport_->input_pending(); }));
  EXPECT_EQ(transport_->Read().kind, IoResult::kEnd);
}

TEST_F(UringTransportTest, WriteQueuesASendWhoseCompletionTheNextWriteReports) {
  ends_.QueueReply("reply");
  const size_t size = Frame("reply").size();
  IoResult written = transport_->Write();
  EXPECT_EQ(written.kind, IoResult::kOk);
  EXPECT_EQ(written.bytes, 0);  // queued, submitted with the loop's next turn
  EXPECT_EQ(ends_.output.size(), size);
  EXPECT_FALSE(transport_->idle());

  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return ends_.events.writable() > 0; }));
  EXPECT_TRUE(ends_.output.empty());
  written = transport_->Write();
  EXPECT_EQ(written.kind, IoResult::kOk);
  EXPECT_EQ(written.bytes, static_cast<int64_t>(size));
  EXPECT_EQ(ReadExactly(ends_.client, size), Frame("reply"));
  EXPECT_TRUE(transport_->idle());
}

TEST_F(UringTransportTest, CloseWithASendInFlightIsBusyUntilItsCompletion) {
  // The peer reads nothing: fill the server's socket, so that the ring's send must wait.
  const std::string filler(64 << 10, 'f');
  while (send(ends_.server, filler.data(), filler.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  ends_.QueueReply(std::string(64 << 10, 'r'));
  ASSERT_EQ(transport_->Write().kind, IoResult::kOk);
  loop_.RunOnce(0);  // submits the send
  loop_.RunOnce(20);
  ASSERT_EQ(ends_.events.writable(), 0) << "the send completed: the socket was not full";
  EXPECT_FALSE(transport_->idle());

  transport_->Close();
  EXPECT_TRUE(transport_->output_released());  // cancelled at once: the output may be freed
  EXPECT_FALSE(transport_->idle());            // but its completion is still to come
  ASSERT_TRUE(RunLoopUntil(loop_, [&] { return transport_->idle(); }));
  EXPECT_EQ(ends_.events.writable(), 0);  // closed: nothing more is delivered
}

}  // namespace
}  // namespace server
