// Test helper for handler packages: runs one request through a handler and returns the reply.
//
//   EXPECT_EQ(*HandleToString(handler, "abc"), "ABC");
#ifndef HANDLERS_HANDLER_TESTING_H_
#define HANDLERS_HANDLER_TESTING_H_

#include <string>

#include "absl/status/statusor.h"
#include "handlers/handler.h"

namespace handlers {

inline absl::StatusOr<std::string> HandleToString(Handler& handler, absl::string_view request) {
  protocol::Buffer out;
  Reply reply(&out);
  absl::Status status = handler.Handle(request, reply);
  if (!status.ok()) return status;
  return std::string(out.view());
}

}  // namespace handlers

#endif  // HANDLERS_HANDLER_TESTING_H_
