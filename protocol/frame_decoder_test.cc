#include "protocol/frame_decoder.h"

#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/frame.h"

namespace protocol {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Encode(const std::vector<std::string>& payloads) {
  Buffer out;
  for (const std::string& p : payloads) AppendFrame(p, &out);
  return std::string(out.view());
}

// Feeds `stream` cut at the given points and returns every payload decoded, in order. Reuses
// one scratch buffer for every chunk, as a server's read loop does, so a decoder that kept a
// view into reused memory would return corrupted payloads.
std::vector<std::string> DecodeSplit(absl::string_view stream, const std::vector<size_t>& cuts,
                                     uint32_t max_frame_bytes = 1 << 20) {
  FrameDecoder decoder({.max_frame_bytes = max_frame_bytes});
  std::vector<std::string> frames;
  std::string scratch;
  size_t begin = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t end : ends) {
    scratch = std::string(stream.substr(begin, end - begin));
    begin = end;
    decoder.Feed(scratch);
    while (true) {
      absl::StatusOr<std::optional<Frame>> frame = decoder.Next();
      EXPECT_TRUE(frame.ok()) << frame.status();
      if (!frame.ok() || !frame->has_value()) break;
      frames.emplace_back((*frame)->payload);
    }
    decoder.Retain();
    scratch.assign(scratch.size(), '#');  // poison: the decoder must not read it any more
  }
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
  return frames;
}

TEST(FrameDecoderTest, ManyFramesInOneChunk) {
  const std::vector<std::string> payloads = {"a", "", "hello", std::string(1000, 'x'), ""};
  EXPECT_EQ(DecodeSplit(Encode(payloads), {}), payloads);
}

TEST(FrameDecoderTest, EverySingleSplitPointOfAMultiFrameStream) {
  const std::vector<std::string> payloads = {"abc", "", "defgh", std::string(300, 'z')};
  const std::string stream = Encode(payloads);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    EXPECT_EQ(DecodeSplit(stream, {cut}), payloads) << "cut at " << cut;
  }
}

TEST(FrameDecoderTest, EveryPairOfSplitPoints) {
  const std::vector<std::string> payloads = {"one", "", "three", "four!"};
  const std::string stream = Encode(payloads);
  for (size_t a = 0; a <= stream.size(); ++a) {
    for (size_t b = a; b <= stream.size(); ++b) {
      ASSERT_EQ(DecodeSplit(stream, {a, b}), payloads) << "cuts at " << a << ", " << b;
    }
  }
}

TEST(FrameDecoderTest, OneByteChunks) {
  const std::vector<std::string> payloads = {"x", "", std::string(70000, 'q'), "tail"};
  const std::string stream = Encode(payloads);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(DecodeSplit(stream, cuts), payloads);
}

TEST(FrameDecoderTest, ZeroLengthFrames) {
  EXPECT_THAT(DecodeSplit(std::string(12, '\0'), {1, 5, 6}), ElementsAre("", "", ""));
}

TEST(FrameDecoderTest, BinaryPayloadIsUntouched) {
  std::string payload;
  for (int i = 0; i < 256; ++i) payload.push_back(static_cast<char>(i));
  EXPECT_THAT(DecodeSplit(Encode({payload}), {3, 100}), ElementsAre(payload));
}

TEST(FrameDecoderTest, FrameOfExactlyTheLimitIsAccepted) {
  const std::string payload(4096, 'L');
  EXPECT_THAT(DecodeSplit(Encode({payload}), {2, 2000}, 4096), ElementsAre(payload));
}

TEST(FrameDecoderTest, LimitPlusOneIsRejectedFromTheHeaderAlone) {
  FrameDecoder decoder({.max_frame_bytes = 4096});
  char header[4];
  WriteBigEndian32(4097, header);
  decoder.Feed(absl::string_view(header, 4));  // no payload byte sent yet
  absl::StatusOr<std::optional<Frame>> frame = decoder.Next();
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(frame.status().message(), HasSubstr("4097"));
  // The failure is sticky: the stream cannot be resynchronised.
  decoder.Feed(Encode({"ok"}));
  EXPECT_FALSE(decoder.Next().ok());
}

TEST(FrameDecoderTest, LengthFieldSplitAcrossChunksIsCheckedOnceComplete) {
  FrameDecoder decoder({.max_frame_bytes = 100});
  char header[4];
  WriteBigEndian32(0x01000000, header);  // 16 MiB
  for (int i = 0; i < 3; ++i) {
    std::string byte(1, header[i]);
    decoder.Feed(byte);
    absl::StatusOr<std::optional<Frame>> frame = decoder.Next();
    ASSERT_TRUE(frame.ok());
    EXPECT_FALSE(frame->has_value());
    decoder.Retain();
  }
  decoder.Feed(absl::string_view(header + 3, 1));
  EXPECT_FALSE(decoder.Next().ok());
}

TEST(FrameDecoderTest, IncompleteFrameIsAssembledWithoutMovingIt) {
  // Room for the whole frame is reserved once its header is in, so no later chunk makes the
  // buffer grow (growing would copy everything received so far).
  const std::string big(300000, 'b');
  const std::string stream = Encode({big, "next"});
  FrameDecoder decoder({});
  decoder.Feed(absl::string_view(stream).substr(0, 2));  // half a header
  ASSERT_FALSE(decoder.Next()->has_value());
  decoder.Retain();
  size_t fed = 2;
  size_t capacity = 0;
  for (size_t chunk : {1, 3, 1000, 65536, 100000, 200000}) {
    chunk = std::min(chunk, stream.size() - fed);
    std::string scratch(stream.substr(fed, chunk));
    decoder.Feed(scratch);
    fed += chunk;
    absl::StatusOr<std::optional<Frame>> frame = decoder.Next();
    ASSERT_TRUE(frame.ok());
    if (frame->has_value()) {
      EXPECT_EQ((*frame)->payload, big);
      EXPECT_EQ(decoder.owned_capacity(), capacity) << "the frame's buffer grew";
      frame = decoder.Next();  // the bytes after the big frame were in the same chunk
      ASSERT_TRUE(frame.ok() && frame->has_value());
      EXPECT_EQ((*frame)->payload, "next");
      break;
    }
    decoder.Retain();
    if (fed < 4) continue;  // the header is not complete yet
    if (capacity == 0) capacity = decoder.owned_capacity();
    EXPECT_EQ(capacity, 4 + big.size());
    EXPECT_EQ(decoder.owned_capacity(), capacity);
    scratch.assign(scratch.size(), 'Z');  // reused scratch must not show up in the frame
  }
  EXPECT_EQ(fed, stream.size());
}

TEST(FrameDecoderTest, ReadSpaceTakesBytesStraightIntoTheFrame) {
  const std::string stream = Encode({std::string(1000, 'r'), "after"});
  FrameDecoder decoder({});
  size_t n = 1;
  EXPECT_EQ(decoder.ReadSpace(&n), nullptr);  // nothing buffered
  EXPECT_EQ(n, 0u);
  decoder.Feed(absl::string_view(stream).substr(0, 3));
  decoder.Retain();
  EXPECT_EQ(decoder.ReadSpace(&n), nullptr);  // the length is not known yet
  decoder.Feed(absl::string_view(stream).substr(3, 7));
  ASSERT_FALSE(decoder.Next()->has_value());
  decoder.Retain();
  char* space = decoder.ReadSpace(&n);
  ASSERT_NE(space, nullptr);
  ASSERT_EQ(n, 1004u - 10u);  // exactly the missing bytes: never a byte of the next frame
  std::memcpy(space, stream.data() + 10, 500);
  decoder.CommitRead(500);
  ASSERT_FALSE(decoder.Next()->has_value());
  space = decoder.ReadSpace(&n);
  ASSERT_EQ(n, 494u);
  std::memcpy(space, stream.data() + 510, n);
  decoder.CommitRead(n);
  EXPECT_EQ(decoder.ReadSpace(&n), nullptr);  // complete: nothing is missing
  decoder.Feed(absl::string_view(stream).substr(1004));
  EXPECT_EQ((*decoder.Next())->payload, std::string(1000, 'r'));
  EXPECT_EQ((*decoder.Next())->payload, "after");
  EXPECT_FALSE(decoder.Next()->has_value());
}

TEST(FrameDecoderTest, LargeLeftoverIsFreedOnceConsumed) {
  FrameDecoder decoder({});
  const std::string stream = Encode({std::string(100000, 'b')});
  decoder.Feed(absl::string_view(stream).substr(0, 50000));
  ASSERT_FALSE(decoder.Next()->has_value());
  decoder.Retain();
  decoder.Feed(absl::string_view(stream).substr(50000));
  ASSERT_TRUE(decoder.Next()->has_value());
  decoder.Retain();
  EXPECT_EQ(decoder.owned_capacity(), 0u);
}

TEST(FrameDecoderTest, ErrorFlagIsAFramingErrorUnlessAllowed) {
  Buffer out;
  AppendFrame("boom", &out, FrameKind::kError);

  FrameDecoder server_side({});
  server_side.Feed(out.view());
  EXPECT_FALSE(server_side.Next().ok());

  FrameDecoder client_side({.allow_error_frames = true});
  client_side.Feed(out.view());
  absl::StatusOr<std::optional<Frame>> frame = client_side.Next();
  ASSERT_TRUE(frame.ok());
  ASSERT_TRUE(frame->has_value());
  EXPECT_EQ((*frame)->kind, FrameKind::kError);
  EXPECT_EQ((*frame)->payload, "boom");
}

TEST(FrameEncoderTest, MatchesPythonStructPack) {
  // struct.pack('>I', 5) + b'hello'
  EXPECT_EQ(Encode({"hello"}), std::string("\x00\x00\x00\x05hello", 9));
  EXPECT_EQ(Encode({std::string(258, 'a')}).substr(0, 4), std::string("\x00\x00\x01\x02", 4));
}

TEST(FrameEncoderTest, BeginFinishWritesThePayloadInPlace) {
  Buffer out;
  out.Append("prefix");
  const size_t start = BeginFrame(&out);
  out.Append("in place");
  FinishFrame(start, FrameKind::kError, &out);
  EXPECT_EQ(out.view(), absl::string_view("prefix\x80\x00\x00\x08in place", 18));
}

TEST(ErrorFrameTest, RoundTripsTheStatus) {
  Buffer out;
  AppendErrorFrame(absl::ResourceExhaustedError("too many connections"), &out);
  EXPECT_EQ(out.view().substr(4), "RESOURCE_EXHAUSTED: too many connections");
  FrameDecoder decoder({.allow_error_frames = true});
  decoder.Feed(out.view());
  absl::StatusOr<std::optional<Frame>> frame = decoder.Next();
  ASSERT_TRUE(frame.ok() && frame->has_value());
  EXPECT_EQ((*frame)->kind, FrameKind::kError);
  EXPECT_EQ(StatusFromErrorPayload((*frame)->payload),
            absl::ResourceExhaustedError("too many connections"));
  EXPECT_EQ(StatusFromErrorPayload("garbage").code(), absl::StatusCode::kUnknown);
}

}  // namespace
}  // namespace protocol
