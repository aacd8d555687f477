#include "handlers/handler_testing.h"

#include <optional>
#include <set>

#include "absl/time/clock.h"

namespace handlers {
namespace {

using State = internal::ReplyState;

// The answers of one TestConnection. Shared with the completions its handler holds, which may
// outlive the connection. std::mutex: TSan understands it.
class Record : public internal::AnswerSink {
 public:
  void Complete(uint64_t request, absl::Status status, std::string payload,
                bool close_after) override {
    if (close_after) CloseAfter(request);
    if (status.ok()) {
      Add(request, std::move(payload));
    } else {
      Add(request, std::move(status));
    }
  }
  void Misused(uint64_t, absl::string_view) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++misuses_;
  }

  // The first answer to a request stands; a second is a misuse counted by its completion.
  // The hook runs before Await() can see the answer, so what it noted is there when it does.
  void Add(size_t n, absl::StatusOr<std::string> answer) {
    std::function<void(size_t)> on_answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (answers_.count(n) > 0) return;
      on_answer = on_answer_;
    }
    if (on_answer) on_answer(n);
    std::lock_guard<std::mutex> lock(mu_);
    answers_.emplace(n, std::move(answer));
    changed_.notify_all();
  }
  absl::StatusOr<std::string> Await(size_t n, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                           [&] { return answers_.count(n) > 0; })) {
      return absl::DeadlineExceededError(
          absl::StrCat("no answer to request ", n, " within ", absl::FormatDuration(timeout)));
    }
    return answers_.at(n);
  }
  size_t answered() {
    std::lock_guard<std::mutex> lock(mu_);
    return answers_.size();
  }
  int misuses() {
    std::lock_guard<std::mutex> lock(mu_);
    return misuses_;
  }
  // Noted before the answer is added, so that Await() sees both.
  void CloseAfter(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    closes_after_.insert(n);
  }
  bool closes_after(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    return closes_after_.count(n) > 0;
  }
  void set_on_answer(std::function<void(size_t)> on_answer) {
    std::lock_guard<std::mutex> lock(mu_);
    on_answer_ = std::move(on_answer);
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<size_t, absl::StatusOr<std::string>> answers_;  // guarded by mu_
  int misuses_ = 0;                                         // guarded by mu_
  std::set<size_t> closes_after_;                           // guarded by mu_
  std::function<void(size_t)> on_answer_;                   // guarded by mu_
};

}  // namespace

// The connection's side of Reply::Defer(): a place is the request's number.
class TestConnection::Answers : public internal::Answers {
 public:
  Completion Defer() override { return MakeCompletion(record.get(), current); }

  const internal::SinkRef<Record> record{new Record()};
  size_t current = 0;  // the request being handled
};

TestConnection::TestConnection(Handler& handler)
    : handler_(handler), answers_(std::make_unique<Answers>()) {}

TestConnection::~TestConnection() = default;

TestConnection::How TestConnection::Send(absl::string_view request) {
  const size_t n = next_++;
  Record& record = *answers_->record;
  answers_->current = n;
  protocol::Buffer out;
  Reply reply = State::Make(&out, answers_.get(), /*offloaded=*/false);
  absl::Status status = internal::CallCatching([&] { return handler_.Handle(request, reply); });
  // As the server does: asked on the reply, the close follows this request whatever its answer.
  if (State::close_after(reply)) record.CloseAfter(n);
  if (absl::string_view misuse = State::misuse(reply); !misuse.empty()) {
    record.Misused(n, misuse);
    record.Add(n, internal::MisuseStatus(misuse));  // in a Defer()'s place, if it took one
    return How::kError;
  }
  if (State::deferred(reply)) return How::kLater;
  if (status.ok() && State::offloaded(reply)) {
    OffloadedCall call = State::TakeOffload(reply);
    const std::string copy(request);  // the server's copy: valid for the call
    protocol::Buffer offloaded_out;
    Reply offloaded = State::Make(&offloaded_out, nullptr, /*offloaded=*/true);
    absl::Status offloaded_status = internal::CallCatching([&] { return call(copy, offloaded); });
    if (State::close_after(offloaded)) record.CloseAfter(n);
    if (absl::string_view misuse = State::misuse(offloaded); !misuse.empty()) {
      record.Misused(n, misuse);
      offloaded_status = internal::MisuseStatus(misuse);
    }
    if (offloaded_status.ok()) {
      record.Add(n, std::string(offloaded_out.view()));
    } else {
      record.Add(n, offloaded_status);
    }
    return How::kOffloaded;
  }
  if (!status.ok()) {
    record.Add(n, status);
    return How::kError;
  }
  record.Add(n, std::string(out.view()));
  return How::kNow;
}

absl::StatusOr<std::string> TestConnection::Await(size_t n, absl::Duration timeout) {
  return answers_->record->Await(n, timeout);
}

size_t TestConnection::answered() const { return answers_->record->answered(); }

int TestConnection::misuses() const { return answers_->record->misuses(); }

bool TestConnection::closes_after(size_t n) const { return answers_->record->closes_after(n); }

void TestConnection::set_on_answer(std::function<void(size_t n)> on_answer) {
  answers_->record->set_on_answer(std::move(on_answer));
}

absl::StatusOr<std::string> HandleToString(Handler& handler, absl::string_view request) {
  TestConnection connection(handler);
  connection.Send(request);
  return connection.Await(0);
}

absl::StatusOr<std::string> HandleWithRegistered(absl::string_view name,
                                                 absl::string_view request,
                                                 const HandlerContext& context) {
  const HandlerInfo* info = HandlerRegistry::Global().Find(name);
  if (info == nullptr) return absl::NotFoundError(absl::StrCat("no handler '", name, "'"));
  std::unique_ptr<Service> service = info->new_service();
  TestStartContext start;
  if (absl::Status status = service->Start(start); !status.ok()) return status;
  std::unique_ptr<Handler> handler = service->NewHandler(context);
  absl::StatusOr<std::string> answer = HandleToString(*handler, request);
  handler.reset();
  service->Drain();
  service->Stop();
  return answer;
}

HandlerCounter* TestStartContext::AddCounter(absl::string_view name) {
  std::unique_ptr<HandlerCounter>& counter = counters_[std::string(name)];
  if (counter == nullptr) counter = std::make_unique<HandlerCounter>();
  return counter.get();
}

HandlerGauge* TestStartContext::AddGauge(absl::string_view name) {
  std::unique_ptr<HandlerGauge>& gauge = gauges_[std::string(name)];
  if (gauge == nullptr) gauge = std::make_unique<HandlerGauge>();
  return gauge.get();
}

absl::StatusOr<Upstream*> TestStartContext::AddUpstream(const UpstreamOptions& options) {
  auto it = upstreams_.find(options.name);
  if (it == upstreams_.end()) {
    return absl::NotFoundError(absl::StrCat("upstream '", options.name,
                                            "': the test added none (AddTestUpstream)"));
  }
  declared_[options.name] = options;
  return it->second;
}

void TestStartContext::AddTestUpstream(absl::string_view name, Upstream* upstream) {
  upstreams_[std::string(name)] = upstream;
}

const UpstreamOptions* TestStartContext::upstream_options(absl::string_view name) const {
  auto it = declared_.find(name);
  return it == declared_.end() ? nullptr : &it->second;
}

void TestUpstream::Call(absl::string_view request, const CallOptions& options,
                        UpstreamCallback done) {
  calls_.push_back({std::string(request), options, std::move(done)});
}

void TestUpstream::Answer(size_t n, absl::StatusOr<std::string> reply) {
  UpstreamCallback done = std::move(calls_.at(n).done);
  if (done) done(std::move(reply));
}

const HandlerCounter* TestStartContext::counter(absl::string_view name) const {
  auto it = counters_.find(name);
  return it == counters_.end() ? nullptr : it->second.get();
}

const HandlerGauge* TestStartContext::gauge(absl::string_view name) const {
  auto it = gauges_.find(name);
  return it == gauges_.end() ? nullptr : it->second.get();
}

}  // namespace handlers
