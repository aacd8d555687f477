#include "handlers/registry.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace handlers {

HandlerRegistry& HandlerRegistry::Global() {
  static HandlerRegistry* registry = new HandlerRegistry();  // never destroyed: used at exit
  return *registry;
}

absl::Status HandlerRegistry::Register(HandlerInfo info) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Status result;
  if (info.name.empty() || !info.new_service) {
    result = absl::InvalidArgumentError("a handler needs a name and a factory or service");
  } else if (handlers_.count(info.name) != 0) {
    result = absl::AlreadyExistsError(
        absl::StrCat("handler '", info.name, "' is registered twice; names must be unique"));
  } else {
    std::string name = info.name;
    handlers_.emplace(std::move(name), std::move(info));
  }
  if (!result.ok() && status_.ok()) status_ = result;
  return result;
}

const HandlerInfo* HandlerRegistry::Find(absl::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = handlers_.find(name);
  return it == handlers_.end() ? nullptr : &it->second;
}

std::vector<std::string> HandlerRegistry::Names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, info] : handlers_) names.push_back(name);
  return names;
}

absl::Status HandlerRegistry::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

namespace internal {

bool RegisterHandlerAtStartup(const char* name, const char* help, HandlerFactory factory) {
  if (!factory) {
    return RegisterServiceAtStartup(name, help, nullptr);  // refused, and remembered
  }
  return RegisterServiceAtStartup(name, help, [factory = std::move(factory)] {
    return std::make_unique<FactoryService>(factory);
  });
}

bool RegisterServiceAtStartup(const char* name, const char* help,
                              std::function<std::unique_ptr<Service>()> new_service) {
  return HandlerRegistry::Global().Register({name, help, std::move(new_service)}).ok();
}

}  // namespace internal

}  // namespace handlers
