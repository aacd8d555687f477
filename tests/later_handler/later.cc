// `later`: exercises Reply::Defer() from the test suite. Requests:
//   "now:TEXT"          answered inline with TEXT
//   "defer:MS:TEXT"     deferred; another thread answers TEXT after MS milliseconds
//   "drop"              with --later_misuse only: deferred, and the completion destroyed
//                       unfinished, a misuse (a debug build stops; a release build answers
//                       INTERNAL). Without the flag it is an unknown request, so the handler
//                       kit's fuzzer, which finds "drop" on its own, sees a correct handler.
//   "close:TEXT"        answered inline with TEXT, then the server closes the connection
//   "fail-later:MS"     deferred; answered with an INVALID_ARGUMENT error after MS milliseconds
//   "close-later:MS:TEXT"  deferred; answered TEXT after MS milliseconds, then the server closes
// Completions come from one detached thread per deferred request: the server must take them
// from any thread, in any order.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gflags/gflags.h"
#include "handlers/registry.h"

DEFINE_bool(later_misuse, false,
            "later handler (test only): \"drop\" destroys its completion unfinished, a misuse "
            "that stops a debug build.");

namespace {

class LaterHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    const absl::string_view original = request;
    if (absl::ConsumePrefix(&request, "now:")) {
      reply.Append(request);
    } else if (absl::ConsumePrefix(&request, "close:")) {
      reply.Append(request);
      reply.CloseAfterReply();
    } else if (request == "drop" && FLAGS_later_misuse) {
      handlers::Completion dropped = reply.Defer();
    } else if (absl::ConsumePrefix(&request, "defer:") ||
               absl::ConsumePrefix(&request, "fail-later:") ||
               absl::ConsumePrefix(&request, "close-later:")) {
      const bool close = absl::StartsWith(original, "close-later:");
      const bool fail = !close && !absl::StrContains(request, ':');
      std::pair<std::string, std::string> parts = absl::StrSplit(request, absl::MaxSplits(':', 1));
      int ms = 0;
      if (!absl::SimpleAtoi(parts.first, &ms)) return absl::InvalidArgumentError("bad ms");
      std::thread([done = reply.Defer(), ms, text = parts.second, fail, close]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        if (close) done.CloseAfterReply();
        if (fail) {
          done.Fail(absl::InvalidArgumentError("failed later"));
        } else {
          done.Finish(text);
        }
      }).detach();
    } else {
      return absl::InvalidArgumentError("unknown request");
    }
    return absl::OkStatus();
  }
};

}  // namespace

REGISTER_HANDLER(later, "Test only: answers now or later from another thread.",
                 [](const handlers::HandlerContext&) { return std::make_unique<LaterHandler>(); });
