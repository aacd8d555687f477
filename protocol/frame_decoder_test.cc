#include "protocol/frame_decoder.h"

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

TEST(FrameDecoderTest, MemoryFollowsArrivedBytesNotDeclaredLength) {
  FrameDecoder decoder({.max_frame_bytes = 16u << 20});
  char header[5];
  WriteBigEndian32(16u << 20, header);  // declares 16 MiB...
  header[4] = 'x';                      // ...sends one byte
  decoder.Feed(absl::string_view(header, 5));
  ASSERT_TRUE(decoder.Next().ok());
  decoder.Retain();
  EXPECT_EQ(decoder.buffered_bytes(), 5u);
  EXPECT_LE(decoder.owned_capacity(), 256u);
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
