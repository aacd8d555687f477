// The server's side of Reply::Defer() and of Completion: where an answer given later goes.
// Implemented by the server (server/dispatch) and by the test kit (handler_testing.h); a
// handler never needs it.
//
//   class MyAnswers : public handlers::internal::Answers {
//     handlers::Completion Defer() override { return MakeCompletion(sink_.get(), next_++); }
//   };
//   protocol::Buffer out;
//   handlers::Reply reply = handlers::internal::ReplyState::Make(&out, &answers, false);
//   handler.Handle(request, reply);
//   if (ReplyState::deferred(reply)) ...
#ifndef HANDLERS_ANSWERS_H_
#define HANDLERS_ANSWERS_H_

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "handlers/handler.h"

namespace handlers {
namespace internal {

// Where the later answers of one connection go. Thread-safe: any thread.
//
// Counted by reference (SinkRef, and one reference per Completion) rather than held by
// shared_ptr: a Completion is then two words, so that a callback capturing one (an upstream
// call's) fits in absl::AnyInvocable's inline storage instead of a heap block per request.
class AnswerSink {
 public:
  AnswerSink() = default;
  AnswerSink(const AnswerSink&) = delete;
  AnswerSink& operator=(const AnswerSink&) = delete;

  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // `status` OK: `payload` is the reply to `request`; otherwise an error reply is sent.
  virtual void Complete(uint64_t request, absl::Status status, std::string payload,
                        bool close_after) = 0;
  // A handler misused the completion of `request` (`what` says how): counted, and a debug
  // build stops. A completion dropped unfinished has been answered (INTERNAL) first.
  virtual void Misused(uint64_t request, absl::string_view what) = 0;

 protected:
  virtual ~AnswerSink() = default;  // by the last Unref()

 private:
  std::atomic<int64_t> refs_{0};
};

// An owning reference to a sink of type T: `SinkRef<T> sink(new T(...))`.
template <typename T>
class SinkRef {
 public:
  SinkRef() = default;
  explicit SinkRef(T* sink) : sink_(sink) {
    if (sink_ != nullptr) sink_->Ref();
  }
  SinkRef(const SinkRef& other) : SinkRef(other.sink_) {}
  SinkRef(SinkRef&& other) noexcept : sink_(std::exchange(other.sink_, nullptr)) {}
  SinkRef& operator=(SinkRef other) noexcept {
    std::swap(sink_, other.sink_);
    return *this;
  }
  ~SinkRef() {
    if (sink_ != nullptr) sink_->Unref();
  }

  T* get() const { return sink_; }
  T* operator->() const { return sink_; }
  T& operator*() const { return *sink_; }
  explicit operator bool() const { return sink_ != nullptr; }

 private:
  T* sink_ = nullptr;
};

// What a Reply asks of the server: the place of a request answered later.
class Answers {
 public:
  virtual ~Answers() = default;
  // Reserves the reply's place, in request order, for the request being handled; its answer
  // comes through the completion.
  virtual Completion Defer() = 0;

 protected:
  // A completion of `request` through `sink` (which it keeps alive; null: answers nothing).
  static Completion MakeCompletion(AnswerSink* sink, uint64_t request) {
    return Completion(sink, request);
  }
};

// How the server makes a Reply and reads what Handle() (or an offloaded call) chose.
class ReplyState {
 public:
  // A reply appended to `out`. `answers` may be null (Defer() then answers nothing);
  // `offloaded` for the reply of an offloaded call, which may neither defer nor offload.
  static Reply Make(protocol::Buffer* out, Answers* answers, bool offloaded) {
    return Reply(out, answers, offloaded);
  }
  static bool close_after(const Reply& reply) { return reply.close_after_; }
  static bool deferred(const Reply& reply) { return reply.deferred_; }
  static bool offloaded(const Reply& reply) { return reply.offload_ != nullptr; }
  static OffloadedCall TakeOffload(Reply& reply) { return std::move(reply.offload_); }
  // Set when the handler answered two ways, or deferred or offloaded where it may not; the
  // request is then answered with an INTERNAL error. Empty otherwise.
  static absl::string_view misuse(const Reply& reply) {
    if (reply.misuse_ == nullptr && (reply.deferred_ || reply.offload_ != nullptr) &&
        reply.size() > 0) {
      return "a reply appended to and also deferred or offloaded";
    }
    return reply.misuse_ == nullptr ? absl::string_view() : reply.misuse_;
  }
  // The place a Defer() took, to answer it with the error of a misuse.
  static uint64_t deferred_request(const Reply& reply) { return reply.deferred_request_; }
};

// The error a misused reply or call is answered with, by the server and the test kit alike (the
// kit's fuzz target compares their replies byte for byte).
inline absl::Status MisuseStatus(absl::string_view what) {
  return absl::InternalError(absl::StrCat("handler misuse: ", what));
}

// Runs a handler's code (Handle() or an offloaded call), turning an exception it throws into an
// INTERNAL status, as the server and the test kit both do.
template <typename Call>
absl::Status CallCatching(Call&& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("handler threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("handler threw a non-standard exception");
  }
}

}  // namespace internal
}  // namespace handlers

#endif  // HANDLERS_ANSWERS_H_
