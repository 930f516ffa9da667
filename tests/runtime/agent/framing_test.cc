// Frame reading and writing over real socket pairs and pipes, and the incremental decoder.

#include "runtime/agent/framing.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace mvm::runtime::agent {
namespace {

class SocketPair {
 public:
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0); }
  ~SocketPair() {
    CloseA();
    CloseB();
  }
  int a() const { return fds_[0]; }
  int b() const { return fds_[1]; }
  void CloseA() { Close(0); }
  void CloseB() { Close(1); }

 private:
  void Close(int i) {
    if (fds_[i] >= 0) {
      close(fds_[i]);
      fds_[i] = -1;
    }
  }
  int fds_[2] = {-1, -1};
};

void SendRaw(int fd, std::string_view bytes) {
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

TEST(EncodeFrameTest, HeaderIsBigEndianLength) {
  EXPECT_EQ(EncodeFrame("abc"), std::string("\0\0\0\3abc", 7));
  EXPECT_EQ(EncodeFrame(std::string(0x010203, 'x')).substr(0, 4), std::string("\0\x01\x02\x03", 4));
  EXPECT_EQ(EncodeFrame(""), std::string(4, '\0'));
}

TEST(FramingTest, RoundTripsFramesInOrder) {
  SocketPair pair;
  ASSERT_TRUE(WriteFrame(pair.a(), "first"));
  ASSERT_TRUE(WriteFrame(pair.a(), ""));
  ASSERT_TRUE(WriteFrame(pair.a(), std::string("\0binary\xff", 8)));
  for (std::string expected :
       {std::string("first"), std::string(), std::string("\0binary\xff", 8)}) {
    auto frame = ReadFrame(pair.b());
    ASSERT_TRUE(frame) << frame.error().message;
    ASSERT_TRUE(frame->has_value());
    EXPECT_EQ(**frame, expected);
  }
}

TEST(FramingTest, CleanEndOfStreamIsNotAnError) {
  SocketPair pair;
  ASSERT_TRUE(WriteFrame(pair.a(), "last"));
  pair.CloseA();
  auto last = ReadFrame(pair.b());
  ASSERT_TRUE(last && *last);
  auto end = ReadFrame(pair.b());
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_FALSE(end->has_value());
}

TEST(FramingTest, EndOfStreamInsideAHeaderIsAnError) {
  SocketPair pair;
  SendRaw(pair.a(), std::string("\0\0", 2));
  pair.CloseA();
  auto frame = ReadFrame(pair.b());
  ASSERT_FALSE(frame);
  EXPECT_NE(frame.error().message.find("inside a frame header (2 of 4 bytes)"), std::string::npos);
}

TEST(FramingTest, EndOfStreamInsideAPayloadIsAnError) {
  SocketPair pair;
  SendRaw(pair.a(), EncodeFrame("0123456789").substr(0, 9));
  pair.CloseA();
  auto frame = ReadFrame(pair.b());
  ASSERT_FALSE(frame);
  EXPECT_NE(frame.error().message.find("inside a frame (5 of 10 bytes)"), std::string::npos)
      << frame.error().message;
}

TEST(FramingTest, OversizedFrameIsRefusedBeforeItsPayloadIsRead) {
  SocketPair pair;
  const uint32_t size = kMaxFrameBytes + 1;
  SendRaw(pair.a(), std::string{static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                                static_cast<char>(size >> 8), static_cast<char>(size)} +
                        "after");
  auto frame = ReadFrame(pair.b());
  ASSERT_FALSE(frame);
  EXPECT_NE(frame.error().message.find("larger than the limit"), std::string::npos);
  char rest[16];
  EXPECT_EQ(recv(pair.b(), rest, sizeof rest, MSG_DONTWAIT), 5);  // not consumed
  // A smaller limit of the caller's own.
  ASSERT_TRUE(WriteFrame(pair.a(), "12345"));
  auto small = ReadFrame(pair.b(), 4);
  EXPECT_FALSE(small);
}

TEST(FramingTest, WriteRefusesOversizedPayloads) {
  SocketPair pair;
  auto written = WriteFrame(pair.a(), std::string(kMaxFrameBytes + 1, 'x'));
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message.find("larger than the limit"), std::string::npos);
  ASSERT_TRUE(WriteFrame(pair.a(), "still usable"));
  auto frame = ReadFrame(pair.b());
  ASSERT_TRUE(frame && *frame);
  EXPECT_EQ(**frame, "still usable");
}

TEST(FramingTest, LargestFrameSurvivesShortReadsAndWrites) {
  // Far more than a socket buffer: both sides see partial transfers.
  SocketPair pair;
  std::string payload(kMaxFrameBytes, '\0');
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>(i * 31 + (i >> 11));
  }
  std::optional<ErrorOr<Ok>> written;
  std::thread writer([&] { written.emplace(WriteFrame(pair.a(), payload)); });
  auto frame = ReadFrame(pair.b());
  writer.join();
  ASSERT_TRUE(written && *written);
  ASSERT_TRUE(frame && *frame);
  EXPECT_TRUE(**frame == payload);
}

TEST(FramingTest, PipesWorkToo) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_TRUE(WriteFrame(fds[1], "through a pipe"));
  close(fds[1]);
  auto frame = ReadFrame(fds[0]);
  ASSERT_TRUE(frame && *frame);
  EXPECT_EQ(**frame, "through a pipe");
  auto end = ReadFrame(fds[0]);
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->has_value());
  close(fds[0]);
}

TEST(FramingTest, WritingToAVanishedPeerIsAnErrorNotSigpipe) {
  SocketPair pair;
  pair.CloseB();
  auto written = WriteFrame(pair.a(), "nobody listens");
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message.find("Broken pipe"), std::string::npos)
      << written.error().message;
}

// A frame that has not arrived by the deadline, whole or in part, is an error of the timed-out
// kind, which the client tells apart from a broken connection by that kind, not by the message.
TEST(FramingTest, AFrameMissingItsDeadlineIsATimedOutError) {
  SocketPair p;
  const auto soon = [] { return std::chrono::steady_clock::now() + std::chrono::milliseconds(50); };
  auto nothing = ReadFrameBy(p.b(), soon());
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().kind, ErrorKind::kTimedOut) << nothing.error().message;
  SendRaw(p.a(), std::string("\0\0\0\x05"
                             "ab",
                             6));
  auto half = ReadFrameBy(p.b(), soon());
  ASSERT_FALSE(half);
  EXPECT_EQ(half.error().kind, ErrorKind::kTimedOut) << half.error().message;
  p.CloseA();
  SocketPair q;
  SendRaw(q.a(), std::string("\0\0\0\x05"
                             "ab",
                             6));
  q.CloseA();
  auto truncated = ReadFrameBy(q.b(), soon());
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().kind, ErrorKind::kTimedOut) << truncated.error().message;
}

TEST(FrameDecoderTest, ByteByByteGivesTheSameFrames) {
  const std::string stream = EncodeFrame("one") + EncodeFrame("") + EncodeFrame("three");
  FrameDecoder decoder;
  std::vector<std::string> frames;
  std::string frame;
  for (char c : stream) {
    decoder.Append(std::string_view(&c, 1));
    while (decoder.Next(frame) == FrameDecoder::Status::kFrame) {
      frames.push_back(frame);
    }
  }
  EXPECT_EQ(frames, (std::vector<std::string>{"one", "", "three"}));
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoderTest, PartialFramesWait) {
  FrameDecoder decoder;
  std::string frame;
  const std::string encoded = EncodeFrame("payload");
  decoder.Append(encoded.substr(0, 2));
  EXPECT_EQ(decoder.Next(frame), FrameDecoder::Status::kNeedMore);
  EXPECT_FALSE(decoder.next_length());
  decoder.Append(encoded.substr(2, 5));
  EXPECT_EQ(decoder.next_length(), 7u);
  EXPECT_EQ(decoder.Next(frame), FrameDecoder::Status::kNeedMore);
  decoder.Append(encoded.substr(7));
  ASSERT_EQ(decoder.Next(frame), FrameDecoder::Status::kFrame);
  EXPECT_EQ(frame, "payload");
}

TEST(FrameDecoderTest, TooLargeIsSticky) {
  FrameDecoder decoder(8);
  std::string frame;
  decoder.Append(EncodeFrame("12345678"));
  ASSERT_EQ(decoder.Next(frame), FrameDecoder::Status::kFrame);
  decoder.Append(EncodeFrame("123456789"));
  EXPECT_EQ(decoder.Next(frame), FrameDecoder::Status::kTooLarge);
  EXPECT_EQ(decoder.next_length(), 9u);
  EXPECT_EQ(decoder.Next(frame), FrameDecoder::Status::kTooLarge);
}

TEST(FrameDecoderTest, LongStreamsInOddPiecesKeepTheBufferSmall) {
  // Reads that end mid-frame, over many frames: every frame comes out and the buffer holds at
  // most a frame and a read.
  const std::string encoded = EncodeFrame(std::string(1000, 'x'));
  std::string stream;
  for (int i = 0; i < 3000; ++i) {
    stream += encoded;
  }
  FrameDecoder decoder;
  std::string frame;
  int frames = 0;
  for (size_t at = 0; at < stream.size(); at += 1500) {
    decoder.Append(std::string_view(stream).substr(at, 1500));
    while (decoder.Next(frame) == FrameDecoder::Status::kFrame) {
      ASSERT_EQ(frame.size(), 1000u);
      ++frames;
    }
    ASSERT_LT(decoder.buffered(), encoded.size());
  }
  EXPECT_EQ(frames, 3000);
  EXPECT_EQ(decoder.buffered(), 0u);
}

}  // namespace
}  // namespace mvm::runtime::agent
