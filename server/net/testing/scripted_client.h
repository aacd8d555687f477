// What the Connection tests drive a connection with: the test's end of the socket (Client),
// a handler that answers by what each request says (ScriptedHandler), and loop helpers that
// pump the client between turns.
//
//   Deferred deferred;
//   ConnectionHarness h(Scripted(&deferred));
//   int fd = -1;
//   Connection* c = h.Open(&fd);
//   Client client(fd);
//   client.Send(Frame("defer one"));
//   ASSERT_TRUE(RunWith(h, client, [&] { return deferred.completions.size() == 1; }));
//
// Not thread-safe: the loop and the client both run on the test's thread.
#ifndef SERVER_NET_TESTING_SCRIPTED_CLIENT_H_
#define SERVER_NET_TESTING_SCRIPTED_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "handlers/handler.h"
#include "server/net/testing/connection_harness.h"

namespace server {
namespace testing {

// A bare header declaring `length`, with no payload.
std::string Header(uint32_t length);

// The test's end of a connection. The loop runs on the test thread, so it never blocks: Send()
// queues bytes and Pump() (called from RunUntil conditions) moves what the socket takes now,
// out and (unless reading is off) in.
class Client {
 public:
  explicit Client(int fd) : fd_(fd) {}
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void Send(absl::string_view bytes);
  void Pump();
  void set_reading(bool reading) { reading_ = reading; }
  // Half-closes: the server sees the end of the stream after what was sent.
  void ShutdownWrite();
  // Closes with a reset (SO_LINGER 0) instead of a FIN.
  void Reset();

  int fd() const { return fd_; }
  bool all_sent() const { return unsent_.empty(); }
  size_t unsent() const { return unsent_.size(); }
  const std::string& given() const { return given_; }  // everything passed to Send()
  const std::string& received() const { return received_; }
  bool eof() const { return eof_; }

 private:
  int fd_;
  bool reading_ = true;
  bool eof_ = false;
  std::string unsent_;
  std::string given_;
  std::string received_;
};

// What the test keeps of the requests ScriptedHandler deferred.
struct Deferred {
  std::vector<std::string> requests;
  std::vector<handlers::Completion> completions;
};

// Answers by what a request says: one starting "defer" later, through a Completion kept in
// `Deferred` for the test to finish; one containing "close" asks to close after its reply;
// anything else is echoed at once.
class ScriptedHandler : public handlers::Handler {
 public:
  explicit ScriptedHandler(Deferred* deferred) : deferred_(deferred) {}
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override;

 private:
  Deferred* const deferred_;
};

// Harness options whose connections use ScriptedHandler. Declare the Deferred before the
// harness: completions left unfinished then outlive the loop, and their abandonment is dropped
// with it.
ConnectionHarness::Options Scripted(Deferred* deferred, ConnectionHarness::Options options = {});

// Runs the loop until `done`, pumping the client's bytes both ways between turns.
bool RunWith(ConnectionHarness& h, Client& client, const std::function<bool()>& done,
             absl::Duration timeout = absl::Seconds(10));

// Runs the loop for `window` and returns whether `happened` became true meanwhile: for what
// must not happen while the connection is not reading.
bool HappensWithin(ConnectionHarness& h, Client& client, const std::function<bool()>& happened,
                   absl::Duration window = absl::Milliseconds(100));

}  // namespace testing
}  // namespace server

#endif  // SERVER_NET_TESTING_SCRIPTED_CLIENT_H_
