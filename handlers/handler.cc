#include "handlers/handler.h"

#include <utility>

#include "handlers/answers.h"

namespace handlers {

// What the two-word layout is for (handler.h): absl::AnyInvocable keeps two words inline.
static_assert(sizeof(Completion) <= 2 * sizeof(void*),
              "a callback capturing a Completion would need a heap block");

Completion::Completion(internal::AnswerSink* sink, uint64_t request)
    : sink_(sink), bits_(request) {
  if (sink_ != nullptr) sink_->Ref();
}

Completion::Completion(Completion&& other) noexcept
    : sink_(std::exchange(other.sink_, nullptr)), bits_(other.bits_) {}

Completion& Completion::operator=(Completion&& other) noexcept {
  if (this != &other) {
    Completion dropped(std::move(*this));  // answered as a drop, if it was still owed
    sink_ = std::exchange(other.sink_, nullptr);
    bits_ = other.bits_;
  }
  return *this;
}

Completion::~Completion() {
  if (sink_ == nullptr) return;
  if ((bits_ & kFinished) == 0) {
    sink_->Complete(request(), absl::InternalError("the handler dropped the request unanswered"),
                    std::string(), /*close_after=*/false);
    sink_->Misused(request(), "a Completion destroyed unfinished");
  }
  sink_->Unref();
}

void Completion::Finish(std::string payload) { Send(absl::OkStatus(), std::move(payload)); }

void Completion::Fail(absl::Status status) { Send(std::move(status), std::string()); }

void Completion::Send(absl::Status status, std::string payload) {
  if (sink_ == nullptr) return;  // inert: from a Reply with no server, or moved from
  if (bits_ & kFinished) return sink_->Misused(request(), "a Completion finished twice");
  bits_ |= kFinished;
  sink_->Complete(request(), std::move(status), std::move(payload), (bits_ & kCloseAfter) != 0);
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
  deferred_request_ = done.request();
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
