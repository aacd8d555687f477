// A handler that answers every request with what its HandlerContext says of the connection:
//   "tls=1 subject=O=Example,CN=client-1"   (tls=0 and an empty subject on plain text)
// so tests can see what a handler that authorises clients would see.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "handlers/handler.h"
#include "handlers/registry.h"

namespace {

class WhoamiHandler : public handlers::Handler {
 public:
  explicit WhoamiHandler(const handlers::ConnectionInfo& info)
      : answer_(absl::StrCat("tls=", info.tls ? 1 : 0, " subject=", info.peer_certificate_subject)) {}

  absl::Status Handle(absl::string_view, handlers::Reply& reply) override {
    reply.Append(answer_);
    return absl::OkStatus();
  }

 private:
  const std::string answer_;
};

}  // namespace

REGISTER_HANDLER(whoami, "Test only: answers what the server knows of the connection (TLS, subject).",
                 [](const handlers::HandlerContext& context) {
                   return std::make_unique<WhoamiHandler>(context.connection);
                 });
