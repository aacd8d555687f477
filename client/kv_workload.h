// KvWorkload: one bench connection's share of a key-value mix for the `kv` handler
// (`client --bench --kv_mix=set:1,get:9 --keys=100000`), and the model that checks its replies.
//
// Keys are "key:000000000042". Connection `index` of `count` owns the keys whose number is
// `index` modulo `count`, so no two connections write one key, and the server's per-connection
// ordering (a pipelined SET then GET reads its own write) makes every GET's answer known: the
// value this connection last set, or, for a key not yet set in this run, anything the database
// may hold from before (a `+value` or `-NOT_FOUND`). Values are `value_bytes` long and name their
// key and version, so a value read back under the wrong key or from an older SET is caught.
//
//   KvWorkload kv(*KvMix::Parse("set:1,get:9"), /*keys=*/1000, /*index=*/0, /*count=*/4, 64, 1);
//   kv.Next(&output);                       // appends a request frame
//   bool ok = kv.Check(reply_frame);        // the oldest unanswered request's reply
//
// Not thread-safe: one per connection, on its bench thread.
#ifndef CLIENT_KV_WORKLOAD_H_
#define CLIENT_KV_WORKLOAD_H_

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/workload.h"
#include "protocol/buffer.h"
#include "protocol/frame.h"

namespace client {

// The relative weights of the commands, e.g. "set:1,get:9" or "set:1,get:8,del:1".
struct KvMix {
  int set = 0, get = 0, del = 0;
  static absl::StatusOr<KvMix> Parse(absl::string_view text);
};

class KvWorkload : public Workload {
 public:
  // `protocol`: how requests are sent, and replies read (resp.h: Redis's, for comparison).
  KvWorkload(KvMix mix, int64_t keys, int index, int count, int value_bytes, uint64_t seed,
             Protocol protocol = Protocol::kFramed);

  // Appends the next request's frame to `out` and remembers what its reply must be.
  void Next(protocol::Buffer* out) override;
  // Checks the reply to the oldest unanswered request; false if it is not what the model says.
  bool Check(const protocol::Frame& reply) override;
  // Appends the frames of every unanswered request again (to resend on a new connection); each
  // is applied at most twice by the server, and a repeated SET or DEL changes nothing.
  void Resend(protocol::Buffer* out) const override;
  // The unanswered requests will never be answered (the connection failed): the keys they
  // wrote are no longer known.
  void Abandon() override;

  // The value SET for `key` at `version` (exposed for tests).
  std::string ValueOf(int64_t key, uint32_t version) const;

 private:
  enum class Op { kSet, kGet, kDel };
  static constexpr uint32_t kAbsent = 0;                  // DEL'd in this run
  static constexpr uint32_t kUnknown = ~uint32_t{0};      // not set in this run, or uncertain
  struct Pending {
    Op op;
    int64_t slot;      // which of this connection's keys
    uint32_t version;  // what a GET must find (kAbsent, kUnknown, or a version)
    std::string frame;  // the command's text (sent in protocol_)
  };

  int64_t PickKey();
  Op PickOp();

  const KvMix mix_;
  const int64_t first_key_;   // this connection's keys: first_key_ + i * stride_
  const int64_t stride_;
  const int64_t owned_keys_;
  const int value_bytes_;
  const Protocol protocol_;
  std::mt19937_64 random_;
  std::vector<uint32_t> version_;  // per owned key, as of the requests sent so far
  uint32_t sets_ = 0;              // the last version written
  std::deque<Pending> pending_;    // sent, unanswered, oldest first
};

}  // namespace client

#endif  // CLIENT_KV_WORKLOAD_H_
