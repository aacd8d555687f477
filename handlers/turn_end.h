// TurnEnd: work a handler puts off until its worker has handled everything it read together.
//
// A worker reads what many connections sent, handles every request of it, and only then waits
// for more: the end of its loop's turn (Redis writes its append-only file at the same point,
// in beforeSleep). A handler that hands work to a thread of its own (kv's commit thread) can
// hand over a whole turn's work at once there, with one wake-up, instead of one per request.
//
//   class Committer : public handlers::TurnEndHook {
//     void AtTurnEnd() override { wake_.notify_one(); }  // everything queued this turn
//   };
//   // in Handle(), after queueing the request's work:
//   if (turn_end_ != nullptr) turn_end_->CallAtEnd(&committer_); else committer_.AtTurnEnd();
//
// HandlerContext::turn_end is the worker's; it is null where there is no worker (a unit test
// calling Handle() directly), so a handler must not rely on it to run.
#ifndef HANDLERS_TURN_END_H_
#define HANDLERS_TURN_END_H_

namespace handlers {

class TurnEndHook {
 public:
  // On the worker thread, at the end of a turn in which CallAtEnd(this) was asked. It must not
  // block (the worker's other connections wait); it may be called by several workers at once.
  virtual void AtTurnEnd() = 0;

 protected:
  ~TurnEndHook() = default;
};

class TurnEnd {
 public:
  virtual ~TurnEnd() = default;
  // On the worker thread (in Handle(), or an answer's callback there): calls
  // `hook->AtTurnEnd()` once when this turn's requests have all been handled, however many
  // times it is asked in the turn. `hook` must outlive the server's workers (a Service's).
  virtual void CallAtEnd(TurnEndHook* hook) = 0;
};

}  // namespace handlers

#endif  // HANDLERS_TURN_END_H_
