#include "client/kv_workload.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "protocol/frame_decoder.h"

namespace client {
namespace {

// The request payloads framed in `out`.
std::vector<std::string> Requests(const protocol::Buffer& out) {
  protocol::FrameDecoder decoder({});
  decoder.Feed(out.view());
  std::vector<std::string> requests;
  while (true) {
    absl::StatusOr<std::optional<protocol::Frame>> frame = decoder.Next();
    EXPECT_TRUE(frame.ok());
    if (!frame.ok() || !frame->has_value()) break;
    requests.emplace_back((*frame)->payload);
  }
  return requests;
}

// A model of the kv handler: applies one request, returns its reply payload.
std::string Apply(const std::string& request, std::map<std::string, std::string>* db) {
  absl::string_view rest = request;
  if (absl::ConsumePrefix(&rest, "SET ")) {
    const size_t space = rest.find(' ');
    (*db)[std::string(rest.substr(0, space))] = std::string(rest.substr(space + 1));
    return "+";
  }
  if (absl::ConsumePrefix(&rest, "DEL ")) {
    db->erase(std::string(rest));
    return "+";
  }
  EXPECT_TRUE(absl::ConsumePrefix(&rest, "GET ")) << request;
  auto it = db->find(std::string(rest));
  return it == db->end() ? "-NOT_FOUND" : absl::StrCat("+", it->second);
}

protocol::Frame Normal(absl::string_view payload) { return {payload, protocol::FrameKind::kNormal}; }

TEST(KvMixTest, ParsesWeightsAndRefusesNonsense) {
  absl::StatusOr<KvMix> mix = KvMix::Parse("set:1,get:9");
  ASSERT_TRUE(mix.ok()) << mix.status();
  EXPECT_EQ(mix->set, 1);
  EXPECT_EQ(mix->get, 9);
  EXPECT_EQ(mix->del, 0);
  EXPECT_FALSE(KvMix::Parse("set:x").ok());
  EXPECT_FALSE(KvMix::Parse("put:1").ok());
  EXPECT_FALSE(KvMix::Parse("set:-1,get:2").ok());
  EXPECT_FALSE(KvMix::Parse("set:0,get:0").ok());
}

TEST(KvWorkloadTest, EveryReplyOfAFaithfulStoreChecksOutWithPipelining) {
  std::map<std::string, std::string> db = {{"key:000000000000", "from an earlier run"}};
  KvWorkload kv(*KvMix::Parse("set:3,get:6,del:1"), /*keys=*/50, /*index=*/0, /*count=*/2,
                /*value_bytes=*/16, /*seed=*/7);
  int gets_of_known_values = 0;
  for (int round = 0; round < 500; ++round) {
    protocol::Buffer out;
    for (int i = 0; i < 8; ++i) kv.Next(&out);  // eight in flight, answered in order
    for (const std::string& request : Requests(out)) {
      const std::string reply = Apply(request, &db);
      ASSERT_TRUE(kv.Check(Normal(reply))) << request << " -> " << reply;
      if (absl::StartsWith(request, "GET") && reply[0] == '+' && reply.size() == 17) {
        ++gets_of_known_values;
      }
    }
  }
  EXPECT_GT(gets_of_known_values, 100);
}

TEST(KvWorkloadTest, ConnectionsOwnDisjointKeys) {
  std::set<std::string> keys[3];
  for (int index = 0; index < 3; ++index) {
    KvWorkload kv(*KvMix::Parse("set:1"), /*keys=*/30, index, /*count=*/3, 8, index + 1);
    protocol::Buffer out;
    for (int i = 0; i < 300; ++i) kv.Next(&out);
    for (const std::string& request : Requests(out)) {
      keys[index].insert(request.substr(4, 16));
    }
    EXPECT_EQ(keys[index].size(), 10u);
  }
  for (const std::string& key : keys[0]) {
    EXPECT_EQ(keys[1].count(key) + keys[2].count(key), 0u) << key;
  }
}

// Drives a one-key set/get workload against a faithful store until a GET follows two SETs,
// then answers that GET with `wrong(previous value, current value)`: the check must fail.
bool AcceptsWrongAnswer(std::string (*wrong)(const std::string&, const std::string&)) {
  KvWorkload kv(*KvMix::Parse("set:1,get:1"), /*keys=*/1, 0, 1, 8, 3);
  std::map<std::string, std::string> db;
  std::string previous, current;
  int sets = 0;
  for (int i = 0; i < 1000; ++i) {
    protocol::Buffer one;
    kv.Next(&one);
    const std::string request = Requests(one)[0];
    const std::string reply = Apply(request, &db);
    if (absl::StartsWith(request, "SET")) {
      previous = current;
      current = absl::StrCat("+", request.substr(21));
      ++sets;
    } else if (sets >= 2) {
      return kv.Check(Normal(wrong(previous, current)));
    }
    EXPECT_TRUE(kv.Check(Normal(reply))) << request;
  }
  ADD_FAILURE() << "no GET after two SETs";
  return true;
}

TEST(KvWorkloadTest, AWrongGetAnswerIsAMismatch) {
  EXPECT_FALSE(AcceptsWrongAnswer([](const std::string& previous, const std::string&) {
    return previous;  // an older SET's value
  }));
  EXPECT_FALSE(AcceptsWrongAnswer([](const std::string&, const std::string&) {
    return std::string("-NOT_FOUND");
  }));
  EXPECT_FALSE(AcceptsWrongAnswer([](const std::string&, const std::string& current) {
    return current + "x";  // one byte too many
  }));
  EXPECT_TRUE(AcceptsWrongAnswer([](const std::string&, const std::string& current) {
    return current;  // the control: the right answer passes
  }));
}

TEST(KvWorkloadTest, AnAbandonedWriteMakesItsKeyUnknown) {
  KvWorkload kv(*KvMix::Parse("set:1,get:1"), /*keys=*/1, 0, 1, 8, 5);
  std::map<std::string, std::string> db;
  // Send until a SET is in flight, then lose the connection.
  protocol::Buffer out;
  std::string last;
  while (!absl::StartsWith(last, "SET")) {
    out.Clear();
    kv.Next(&out);
    last = Requests(out)[0];
    if (!absl::StartsWith(last, "SET")) ASSERT_TRUE(kv.Check(Normal(Apply(last, &db))));
  }
  kv.Abandon();  // the SET may or may not have been applied
  // Whatever the store holds, a GET of that key is accepted until the next SET.
  for (int i = 0; i < 50; ++i) {
    protocol::Buffer next;
    kv.Next(&next);
    const std::string request = Requests(next)[0];
    if (absl::StartsWith(request, "SET")) break;
    EXPECT_TRUE(kv.Check(Normal("-NOT_FOUND")));
  }
}

TEST(KvWorkloadTest, ResendRepeatsTheUnansweredRequestsInOrder) {
  KvWorkload kv(*KvMix::Parse("set:1,get:1,del:1"), 10, 0, 1, 8, 9);
  protocol::Buffer sent;
  for (int i = 0; i < 5; ++i) kv.Next(&sent);
  std::vector<std::string> requests = Requests(sent);
  std::map<std::string, std::string> db;
  ASSERT_TRUE(kv.Check(Normal(Apply(requests[0], &db))));
  protocol::Buffer again;
  kv.Resend(&again);
  EXPECT_EQ(Requests(again), std::vector<std::string>(requests.begin() + 1, requests.end()));
}

}  // namespace
}  // namespace client
