#include "handlers/registry.h"

#include <memory>

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

TEST(HandlerRegistryTest, FindsRegisteredHandlersByName) {
  HandlerRegistry registry;
  ASSERT_TRUE(registry.Register({"b", "second", Constant("B")}).ok());
  ASSERT_TRUE(registry.Register({"a", "first", Constant("A")}).ok());
  EXPECT_THAT(registry.Names(), ElementsAre("a", "b"));
  EXPECT_EQ(registry.Find("missing"), nullptr);

  const HandlerInfo* info = registry.Find("b");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->description, "second");
  protocol::Buffer out;
  Reply reply(&out);
  ASSERT_TRUE(info->factory(HandlerContext{})->Handle("x", reply).ok());
  EXPECT_EQ(out.view(), "B");
  EXPECT_TRUE(registry.status().ok());
}

TEST(HandlerRegistryTest, DuplicateNameIsRefusedAndRemembered) {
  HandlerRegistry registry;
  ASSERT_TRUE(registry.Register({"dup", "one", Constant("1")}).ok());
  const absl::Status second = registry.Register({"dup", "two", Constant("2")});
  EXPECT_EQ(second.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(second.message(), HasSubstr("'dup'"));
  EXPECT_EQ(registry.status(), second);
  EXPECT_EQ(registry.Find("dup")->description, "one");  // the first one stays
}

TEST(HandlerRegistryTest, RejectsEmptyNameAndNullFactory) {
  HandlerRegistry registry;
  EXPECT_EQ(registry.Register({"", "x", Constant("")}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register({"x", "x", nullptr}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.Names().empty());
}

REGISTER_HANDLER(registry_test_constant, "test", Constant("static"));

TEST(HandlerRegistryTest, MacroRegistersWithTheGlobalRegistryBeforeMain) {
  EXPECT_NE(HandlerRegistry::Global().Find("registry_test_constant"), nullptr);
}

}  // namespace
}  // namespace handlers
