#include "server/later_answers.h"

#include <string>
#include <utility>

#include "protocol/buffer.h"
#include "server/serial_calls.h"

namespace server {

const std::shared_ptr<ConnectionLink>& ConnectionAnswers::Link() {
  if (c_->link() == nullptr) {
    c_->set_link(std::make_shared<ConnectionLink>(c_, services_.loop->tasks(), services_.receiver,
                                                  services_.max_frame_bytes));
  }
  return c_->link();
}

uint64_t ConnectionAnswers::TakePlace() {
  const uint64_t id = c_->order.Reserve(now_ns_);
  services_.deadlines->Add(c_, id, now_ns_);
  return id;
}

handlers::Completion ConnectionAnswers::Defer() {
  return handlers::Completion(Link(), TakePlace());
}

bool ConnectionAnswers::RunBlocking(absl::string_view request) {
  if (!services_.pool->TryAcquire()) return false;  // given back by SerialCalls after the call
  // std::function needs a copyable task; the call's state is shared instead.
  struct Call {
    std::shared_ptr<handlers::Handler> handler;
    std::string request;
    handlers::Completion done;
  };
  auto call = std::make_shared<Call>(
      Call{c_->shared_handler(), std::string(request), handlers::Completion(Link(), TakePlace())});
  // The request's copy counts against the memory budget until its call has run.
  const int64_t held = static_cast<int64_t>(request.size());
  services_.budget->Charge(held);
  c_->serial_calls(services_.pool).Add([call, held, budget = services_.budget] {
    protocol::Buffer out;
    handlers::Reply reply(&out);
    const absl::Status status = CallHandler(*call->handler, call->request, reply);
    if (reply.close_after()) call->done.CloseAfterReply();
    if (status.ok()) {
      call->done.Finish(std::string(out.view()));
    } else {
      call->done.Fail(status);
    }
    budget->Charge(-held);
  });
  return true;
}

}  // namespace server

