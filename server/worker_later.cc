// Worker: answers that come later, on the loop thread. See worker.h.
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "protocol/frame.h"
#include "server/worker.h"

namespace server {

// Puts an answer in its place in the order and counts what that released. False if the place
// no longer waits (answered already, timed out, answered at shutdown).
bool Worker::PlaceAnswer(Connection* c, uint64_t request, std::string frame, bool is_error,
                         int64_t* started_ns) {
  int released = 0;
  if (!c->order.Fill(request, std::move(frame), &released, started_ns)) return false;
  request_deadlines_.Remove(c, request, *started_ns);
  stats_.frames_out.Add(released);
  if (is_error) stats_.handler_errors.Add(1);
  return true;
}

void Worker::OnLateReply(Connection* c, uint64_t request, std::string frame, bool is_error,
                         bool close_after) {
  int64_t started_ns = 0;
  if (c == nullptr || !PlaceAnswer(c, request, std::move(frame), is_error, &started_ns)) {
    stats_.replies_discarded.Add(1);  // closed, timed out, or answered at shutdown
    return;
  }
  if (close_after) c->CloseWhenAnswered();
  stats_.RecordLatency(now_ns_, absl::Nanoseconds(common::MonotonicNanos() - started_ns), 1);
  // Written at the end of the turn: the answers of one group commit, or of many handler calls,
  // leave in one write per connection rather than one each.
  if (!c->flush_after_turn) {
    c->flush_after_turn = true;
    late_flushes_.push_back(c);
  }
}

void Worker::FlushLateAnswers() {
  for (size_t i = 0; i < late_flushes_.size(); ++i) {  // Flush may close, never add
    Connection* c = late_flushes_[i];
    c->flush_after_turn = false;
    if (c->closed()) continue;
    Flush(c);
  }
  late_flushes_.clear();
}

// Answers a request still waiting with an error reply in its place (a timeout, shutdown).
void Worker::AnswerWaiting(Connection* c, uint64_t request, const absl::Status& status) {
  protocol::Buffer frame;
  protocol::AppendErrorFrame(status, &frame);
  int64_t started_ns = 0;
  PlaceAnswer(c, request, std::string(frame.view()), /*is_error=*/true, &started_ns);
}

void Worker::ExpireRequests() {
  request_deadlines_.Expire(now_ns_, [this](Connection* c, uint64_t request) {
    stats_.handler_timeouts.Add(1);
    AnswerWaiting(c, request,
                  absl::DeadlineExceededError(absl::StrCat(
                      "no answer within --handler_timeout_ms=",
                      absl::ToInt64Milliseconds(options_.handler_timeout))));
    Flush(c);
  });
}

}  // namespace server
