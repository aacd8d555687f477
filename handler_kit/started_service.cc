#include "handler_kit/started_service.h"

#include <stdlib.h>

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gflags/gflags.h"
#include "handlers/registry.h"

namespace handler_kit {

absl::StatusOr<std::unique_ptr<StartedService>> StartedService::Start(absl::string_view name,
                                                                      absl::string_view flags) {
  const handlers::HandlerInfo* info = handlers::HandlerRegistry::Global().Find(name);
  if (info == nullptr) return absl::NotFoundError(absl::StrCat("no handler '", name, "'"));
  std::unique_ptr<StartedService> started(new StartedService());
  const char* tmp = getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/handler_kit.XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  started->directory_ = pattern;
  const std::string expanded = absl::StrReplaceAll(flags, {{"{tmp}", started->directory_}});
  // One flag per line, as gflags reads a flag file.
  const std::string lines = absl::StrReplaceAll(expanded, {{" --", "\n--"}});
  if (!lines.empty() &&
      !gflags::ReadFlagsFromString(lines, "handler_kit", /*errors_are_fatal=*/false)) {
    return absl::InvalidArgumentError(absl::StrCat("bad handler flags: ", flags));
  }
  std::unique_ptr<handlers::Service> service = info->new_service();
  if (absl::Status status = service->Start(started->context_); !status.ok()) {
    return status;  // not started: neither drained nor stopped
  }
  started->service_ = std::move(service);
  return started;
}

StartedService::~StartedService() {
  if (service_ != nullptr) {
    service_->Drain();
    service_->Stop();
    service_.reset();
  }
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

}  // namespace handler_kit
