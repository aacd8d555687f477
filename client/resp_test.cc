// RESP for the bench: the bytes a command is sent as, and how each kind of reply reads back
// (as the kv handler's frame), split anywhere; a KvWorkload checks a Redis-style conversation.
#include "client/resp.h"

#include <string>
#include <vector>

#include "client/kv_workload.h"
#include "gtest/gtest.h"
#include "protocol/buffer.h"

namespace client {
namespace {

std::string Encoded(Protocol protocol, absl::string_view payload) {
  protocol::Buffer out;
  AppendRequest(protocol, payload, &out);
  return std::string(out.view());
}

TEST(RespTest, CommandsAreArraysOfBulkStrings) {
  EXPECT_EQ(Encoded(Protocol::kResp, "GET key:1"), "*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n");
  EXPECT_EQ(Encoded(Protocol::kResp, "SET k a value with spaces"),
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$19\r\na value with spaces\r\n");
  EXPECT_EQ(Encoded(Protocol::kResp, "SET k "), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
  EXPECT_EQ(Encoded(Protocol::kResp, "PING"), "*1\r\n$4\r\nPING\r\n");
  const std::string binary("a\r\n\0b", 5);
  EXPECT_EQ(Encoded(Protocol::kResp, "SET k " + binary),
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\n" + binary + "\r\n");
  EXPECT_EQ(Encoded(Protocol::kFramed, "GET k"), std::string("\0\0\0\5GET k", 9));
}

// Every reply of `stream` as "<payload>" or "ERROR:<payload>", fed `step` bytes at a time.
std::vector<std::string> Replies(const std::string& stream, size_t step) {
  RespReplyDecoder decoder(1 << 20);
  std::vector<std::string> replies;
  for (size_t i = 0; i < stream.size(); i += step) {
    decoder.Feed(absl::string_view(stream).substr(i, step));
    while (true) {
      absl::StatusOr<std::optional<protocol::Frame>> reply = decoder.Next();
      if (!reply.ok()) {
        replies.push_back("BAD:" + std::string(reply.status().message()));
        return replies;
      }
      if (!reply->has_value()) break;
      const protocol::Frame& frame = **reply;
      replies.push_back((frame.kind == protocol::FrameKind::kError ? "ERROR:" : "") +
                        std::string(frame.payload));
    }
    decoder.Retain();
  }
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
  return replies;
}

TEST(RespTest, RepliesReadAsTheKvHandlersFramesHoweverSplit) {
  const std::string binary("x\r\ny\0z", 6);
  const std::string stream = "+OK\r\n:1\r\n:0\r\n$5\r\nhello\r\n$-1\r\n$0\r\n\r\n$6\r\n" + binary +
                             "\r\n-ERR wrong number of arguments\r\n+PONG\r\n";
  const std::vector<std::string> expected = {"+", "+", "+", "+hello", "-NOT_FOUND", "+",
                                             "+" + binary, "ERROR:ERR wrong number of arguments",
                                             "+PONG"};
  for (size_t step : {stream.size(), size_t{1}, size_t{2}, size_t{7}}) {
    EXPECT_EQ(Replies(stream, step), expected) << "fed " << step << " bytes at a time";
  }
}

TEST(RespTest, WhatIsNotAReplyIsAnError) {
  EXPECT_EQ(Replies("*1\r\n$1\r\na\r\n", 100).back().substr(0, 4), "BAD:") << "arrays";
  EXPECT_EQ(Replies("$abc\r\n", 100).back().substr(0, 4), "BAD:");
  EXPECT_EQ(Replies("$-2\r\n", 100).back().substr(0, 4), "BAD:");
  EXPECT_EQ(Replies("$3\r\nabcXY", 100).back().substr(0, 4), "BAD:") << "no CRLF after the bytes";
  EXPECT_EQ(Replies("\r\n", 100).back().substr(0, 4), "BAD:");
  RespReplyDecoder small(4);
  small.Feed("$5\r\nhello\r\n");
  EXPECT_FALSE(small.Next().ok()) << "a bulk string over the limit";
}

// The kv mix over RESP: a Redis-style answer to each request passes the model's check, and a
// wrong value does not.
TEST(RespTest, AKvWorkloadSpeaksRespAndChecksRedisReplies) {
  KvWorkload kv(*KvMix::Parse("set:1"), /*keys=*/1, /*index=*/0, /*count=*/1, /*value_bytes=*/8,
                /*seed=*/1, Protocol::kResp);
  protocol::Buffer out;
  kv.Next(&out);  // SET of key 0, version 1
  EXPECT_EQ(std::string(out.view()), "*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000000\r\n$8\r\n" +
                                         kv.ValueOf(0, 1) + "\r\n");
  RespReplyDecoder replies(1 << 20);
  replies.Feed("+OK\r\n");
  EXPECT_TRUE(kv.Check(**replies.Next()));

  KvWorkload reader(*KvMix::Parse("get:1"), 1, 0, 1, 8, 1, Protocol::kResp);
  out.Clear();
  reader.Next(&out);
  EXPECT_EQ(std::string(out.view()), "*2\r\n$3\r\nGET\r\n$16\r\nkey:000000000000\r\n");
  replies.Feed("$-1\r\n");  // never set in this run: absent is fine
  EXPECT_TRUE(reader.Check(**replies.Next()));
}

}  // namespace
}  // namespace client
