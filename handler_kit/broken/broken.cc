// Three handlers broken on purpose, each in a way the handler kit must catch (BUILD.bazel):
//   kit_swap        answers pipelined requests with each other's payloads (a pair's answers
//                   swapped; a request alone is answered with its own payload after 20 ms);
//   kit_crash       crashes on a request starting with "boom", echoes the rest;
//   kit_unanswered  never answers a request "hang" (keeps its completion forever), echoes the
//                   rest.
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "handlers/registry.h"

namespace {

class SwapHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->pending.has_value()) {
      // The waiting one gets this payload, and this one the waiting one's: swapped.
      state_->pending->Finish(std::string(request));
      state_->pending.reset();
      reply.Append(state_->pending_payload);
      return absl::OkStatus();
    }
    state_->pending = reply.Defer();
    state_->pending_payload = std::string(request);
    const uint64_t generation = ++state_->generation;
    std::thread([state = state_, generation] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->pending.has_value() && state->generation == generation) {
        state->pending->Finish(state->pending_payload);
        state->pending.reset();
      }
    }).detach();
    return absl::OkStatus();
  }

 private:
  struct State {
    std::mutex mu;
    std::optional<handlers::Completion> pending;  // guarded by mu
    std::string pending_payload;                  // guarded by mu
    uint64_t generation = 0;                      // guarded by mu
  };
  const std::shared_ptr<State> state_ = std::make_shared<State>();
};

class CrashHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    if (absl::StartsWith(request, "boom")) std::abort();
    reply.Append(request);
    return absl::OkStatus();
  }
};

// Completions never finished nor destroyed: a request left unanswered, not a dropped one.
std::vector<handlers::Completion>* const kept = new std::vector<handlers::Completion>();
std::mutex kept_mu;

class UnansweredHandler : public handlers::Handler {
 public:
  absl::Status Handle(absl::string_view request, handlers::Reply& reply) override {
    if (request == "hang") {
      std::lock_guard<std::mutex> lock(kept_mu);
      kept->push_back(reply.Defer());
      return absl::OkStatus();
    }
    reply.Append(request);
    return absl::OkStatus();
  }
};

}  // namespace

REGISTER_HANDLER(kit_swap, "Broken on purpose: swaps the answers of pipelined requests.",
                 [](const handlers::HandlerContext&) { return std::make_unique<SwapHandler>(); });
REGISTER_HANDLER(kit_crash, "Broken on purpose: crashes on a request starting with boom.",
                 [](const handlers::HandlerContext&) { return std::make_unique<CrashHandler>(); });
REGISTER_HANDLER(kit_unanswered, "Broken on purpose: never answers a request 'hang'.",
                 [](const handlers::HandlerContext&) {
                   return std::make_unique<UnansweredHandler>();
                 });
