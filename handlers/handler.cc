#include "handlers/handler.h"

#include <utility>

#include "handlers/answers.h"

namespace handlers {

Completion::Completion(Completion&& other) noexcept
    : sink_(std::move(other.sink_)),
      request_(other.request_),
      close_after_(other.close_after_),
      finished_(other.finished_) {}

Completion& Completion::operator=(Completion&& other) noexcept {
  if (this != &other) {
    Completion dropped(std::move(*this));  // answered as a drop, if it was still owed
    sink_ = std::move(other.sink_);
    request_ = other.request_;
    close_after_ = other.close_after_;
    finished_ = other.finished_;
  }
  return *this;
}

Completion::~Completion() {
  if (sink_ == nullptr || finished_) return;
  sink_->Complete(request_, absl::InternalError("the handler dropped the request unanswered"),
                  std::string(), /*close_after=*/false);
  sink_->Misused(request_, "a Completion destroyed unfinished");
}

void Completion::Finish(std::string payload) { Send(absl::OkStatus(), std::move(payload)); }

void Completion::Fail(absl::Status status) { Send(std::move(status), std::string()); }

void Completion::Send(absl::Status status, std::string payload) {
  if (sink_ == nullptr) return;  // inert: from a Reply with no server, or moved from
  if (finished_) return sink_->Misused(request_, "a Completion finished twice");
  finished_ = true;
  sink_->Complete(request_, std::move(status), std::move(payload), close_after_);
}

bool Reply::MayAnswerLater(const char* what) {
  if (offloaded_call_) {
    misuse_ = what;
    return false;
  }
  if (deferred_ || offload_ != nullptr) {
    misuse_ = "a request answered two ways (Defer() or Offload() twice, or both)";
    return false;
  }
  return true;
}

Completion Reply::Defer() {
  if (!MayAnswerLater("Defer() inside an offloaded call")) return Completion();
  deferred_ = true;
  if (answers_ == nullptr) return Completion();
  Completion done = answers_->Defer();
  deferred_request_ = done.request_;
  return done;
}

void Reply::Offload(OffloadedCall call) {
  if (!MayAnswerLater("Offload() inside an offloaded call")) return;
  if (call == nullptr) {
    misuse_ = "Offload() of an empty call";
    return;
  }
  offload_ = std::move(call);
}

}  // namespace handlers
