// RecordingLater: stands in for a session's later answers in tests of DispatchFrames, with no
// loop and no handler threads.
//
//   ReplyOrder order(&output);
//   RecordingLater later(&order);
//   DispatchFrames(decoder, handler, order, output, &later, limits);
//   later.Return();   // runs the offloaded call and puts its answer in place
#ifndef SERVER_DISPATCH_TESTING_RECORDING_LATER_H_
#define SERVER_DISPATCH_TESTING_RECORDING_LATER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "handlers/answers.h"
#include "handlers/handler.h"
#include "protocol/frame.h"
#include "server/dispatch/dispatch.h"
#include "server/dispatch/reply_order.h"

namespace server {
namespace testing {

// Stands in for the handler threads: keeps what was handed over, holding its reply place,
// until the test runs it (Return).
class RecordingLater : public LaterAnswers {
 public:
  explicit RecordingLater(ReplyOrder* order) : order_(order) {}
  handlers::Completion Defer() override { return MakeCompletion(nullptr, order_->Reserve(0)); }
  bool Offload(absl::string_view request, handlers::OffloadedCall call) override {
    offloaded.emplace_back(request);
    calls.push_back(std::move(call));
    places.push_back(order_->Reserve(0));
    return true;
  }
  bool Offloading() const override { return returned < calls.size(); }
  void FailDeferred(uint64_t request, const absl::Status& status) override {
    failed.emplace_back(request, status);
  }
  // Runs the oldest call not yet run, as a handler thread would, and puts its answer in place.
  void Return() {
    protocol::Buffer payload;
    handlers::Reply reply =
        handlers::internal::ReplyState::Make(&payload, nullptr, /*offloaded=*/true);
    ASSERT_TRUE(CallOffloaded(calls[returned], offloaded[returned], reply).ok());
    protocol::Buffer frame;
    protocol::AppendFrame(payload.view(), &frame);
    int released = 0;
    int64_t started = 0;
    ASSERT_TRUE(order_->Fill(places[returned], std::string(frame.view()), &released, &started));
    ++returned;
  }
  std::vector<std::string> offloaded;
  std::vector<handlers::OffloadedCall> calls;
  std::vector<uint64_t> places;
  size_t returned = 0;
  std::vector<std::pair<uint64_t, absl::Status>> failed;

 private:
  ReplyOrder* order_;
};

}  // namespace testing
}  // namespace server

#endif  // SERVER_DISPATCH_TESTING_RECORDING_LATER_H_
