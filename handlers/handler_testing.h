// Test helper for handler packages: runs one request through a handler and returns the reply.
//
//   EXPECT_EQ(*HandleToString(handler, "abc"), "ABC");
//   EXPECT_EQ(*HandleWithRegistered("uppercase", "abc"), "ABC");  // via the global registry
#ifndef HANDLERS_HANDLER_TESTING_H_
#define HANDLERS_HANDLER_TESTING_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "handlers/handler.h"
#include "handlers/registry.h"

namespace handlers {

inline absl::StatusOr<std::string> HandleToString(Handler& handler, absl::string_view request) {
  protocol::Buffer out;
  Reply reply(&out);
  absl::Status status = handler.Handle(request, reply);
  if (!status.ok()) return status;
  return std::string(out.view());
}

// Makes the handler registered as `name` (NotFound if none) and runs `request` through it.
inline absl::StatusOr<std::string> HandleWithRegistered(absl::string_view name,
                                                        absl::string_view request,
                                                        const HandlerContext& context = {}) {
  const HandlerInfo* info = HandlerRegistry::Global().Find(name);
  if (info == nullptr) return absl::NotFoundError(absl::StrCat("no handler '", name, "'"));
  return HandleToString(*info->factory(context), request);
}

}  // namespace handlers

#endif  // HANDLERS_HANDLER_TESTING_H_
