#include "handlers/registry.h"

#include <functional>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace handlers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ConstantHandler : public Handler {
 public:
  explicit ConstantHandler(std::string reply) : reply_(std::move(reply)) {}
  absl::Status Handle(absl::string_view, Reply& reply) override {
    reply.Append(reply_);
    return absl::OkStatus();
  }

 private:
  std::string reply_;
};

HandlerFactory Constant(std::string text) {
  return [text](const HandlerContext&) { return std::make_unique<ConstantHandler>(text); };
}

// What HandlerInfo holds for a handler registered with `factory`.
std::function<std::unique_ptr<Service>()> Served(HandlerFactory factory) {
  return [factory] { return std::make_unique<FactoryService>(factory); };
}

// A service that counts what the server asks of it.
class CountingService : public Service {
 public:
  absl::Status Start(StartContext& context) override {
    started = context.AddCounter("started");
    started->Add();
    return absl::OkStatus();
  }
  std::unique_ptr<Handler> NewHandler(const HandlerContext&) override {
    started->Add(10);
    return std::make_unique<ConstantHandler>("counted");
  }
  HandlerCounter* started = nullptr;
};
REGISTER_SERVICE(registry_test_service, "test", CountingService);

class TestStartContext : public StartContext {
 public:
  HandlerCounter* AddCounter(absl::string_view) override { return &counter; }
  HandlerCounter counter;
};

TEST(HandlerRegistryTest, FindsRegisteredHandlersByName) {
  HandlerRegistry registry;
  ASSERT_TRUE(registry.Register({"b", "second", Served(Constant("B"))}).ok());
  ASSERT_TRUE(registry.Register({"a", "first", Served(Constant("A"))}).ok());
  EXPECT_THAT(registry.Names(), ElementsAre("a", "b"));
  EXPECT_EQ(registry.Find("missing"), nullptr);

  const HandlerInfo* info = registry.Find("b");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->description, "second");
  protocol::Buffer out;
  Reply reply(&out);
  ASSERT_TRUE(info->new_service()->NewHandler(HandlerContext{})->Handle("x", reply).ok());
  EXPECT_EQ(out.view(), "B");
  EXPECT_TRUE(registry.status().ok());
}

TEST(HandlerRegistryTest, DuplicateNameIsRefusedAndRemembered) {
  HandlerRegistry registry;
  ASSERT_TRUE(registry.Register({"dup", "one", Served(Constant("1"))}).ok());
  const absl::Status second = registry.Register({"dup", "two", Served(Constant("2"))});
  EXPECT_EQ(second.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(second.message(), HasSubstr("'dup'"));
  EXPECT_EQ(registry.status(), second);
  EXPECT_EQ(registry.Find("dup")->description, "one");  // the first one stays
}

TEST(HandlerRegistryTest, RejectsEmptyNameAndNoService) {
  HandlerRegistry registry;
  EXPECT_EQ(registry.Register({"", "x", Served(Constant(""))}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register({"x", "x", nullptr}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.Names().empty());
}

REGISTER_HANDLER(registry_test_constant, "test", Constant("static"));

TEST(HandlerRegistryTest, MacroRegistersWithTheGlobalRegistryBeforeMain) {
  EXPECT_NE(HandlerRegistry::Global().Find("registry_test_constant"), nullptr);
}

TEST(HandlerRegistryTest, AServiceIsMadePerServerAndMakesTheHandlers) {
  const HandlerInfo* info = HandlerRegistry::Global().Find("registry_test_service");
  ASSERT_NE(info, nullptr);
  std::unique_ptr<Service> service = info->new_service();
  TestStartContext context;
  ASSERT_TRUE(service->Start(context).ok());
  EXPECT_EQ(context.counter.value(), 1);
  protocol::Buffer out;
  Reply reply(&out);
  ASSERT_TRUE(service->NewHandler(HandlerContext{})->Handle("x", reply).ok());
  EXPECT_EQ(out.view(), "counted");
  EXPECT_EQ(context.counter.value(), 11);
  EXPECT_NE(info->new_service().get(), service.get()) << "one service per server, not a global";
}

}  // namespace
}  // namespace handlers
