#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/http1/body_decoder.h"

namespace pharos::http1 {
namespace {

struct Outcome {
  size_t consumed = 0;
  bool done = false;
  Error error = Error::kNone;
  uint64_t payload = 0;

  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "{consumed=" << o.consumed << " done=" << o.done
            << " error=" << error_name(o.error) << " payload=" << o.payload << "}";
}

// Feeds `input` cut at the given positions, the way a proxy would: stop at done or error, and
// feed again only what the decoder did not consume.
Outcome feed_split(BodyFraming framing, uint64_t length, std::string_view input,
                   const std::vector<size_t>& cuts, uint32_t max_trailer = 4096) {
  BodyDecoder decoder;
  decoder.reset(framing, length, max_trailer);
  Outcome out;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t to : ends) {
    while (from < to) {
      const BodyDecoder::Step step = decoder.feed(input.data() + from, to - from);
      from += step.consumed;
      out.consumed += step.consumed;
      if (step.error != Error::kNone) {
        out.error = step.error;
        out.payload = decoder.payload_bytes();
        return out;
      }
      if (step.done) {
        out.done = true;
        out.payload = decoder.payload_bytes();
        EXPECT_TRUE(decoder.done());
        return out;
      }
      if (step.consumed == 0) break;
    }
    from = to;
  }
  out.payload = decoder.payload_bytes();
  return out;
}

Outcome feed_all(BodyFraming framing, uint64_t length, std::string_view input,
                 uint32_t max_trailer = 4096) {
  return feed_split(framing, length, input, {}, max_trailer);
}

Outcome chunked(std::string_view input, uint32_t max_trailer = 4096) {
  return feed_all(BodyFraming::kChunked, 0, input, max_trailer);
}

constexpr std::string_view kNext = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";

TEST(BodyDecoder, ContentLengthStopsAtTheBoundary) {
  const std::string input = "hello" + std::string(kNext);
  EXPECT_EQ(feed_all(BodyFraming::kContentLength, 5, input), (Outcome{5, true, Error::kNone, 5}));
  EXPECT_EQ(feed_split(BodyFraming::kContentLength, 5, input, {1, 2, 3, 4}),
            (Outcome{5, true, Error::kNone, 5}));
  // Short input: not done, all consumed.
  EXPECT_EQ(feed_all(BodyFraming::kContentLength, 10, "hello"),
            (Outcome{5, false, Error::kNone, 5}));
}

TEST(BodyDecoder, EmptyBodiesAreDoneAtOnce) {
  BodyDecoder decoder;
  decoder.reset(BodyFraming::kNone, 0);
  EXPECT_TRUE(decoder.done());
  BodyDecoder::Step step = decoder.feed(kNext.data(), kNext.size());
  EXPECT_EQ(step.consumed, 0u);
  EXPECT_TRUE(step.done);
  EXPECT_TRUE(decoder.finish_on_close());

  decoder.reset(BodyFraming::kContentLength, 0);
  EXPECT_TRUE(decoder.done());
  step = decoder.feed(kNext.data(), kNext.size());
  EXPECT_EQ(step.consumed, 0u);
  EXPECT_TRUE(step.done);
}

TEST(BodyDecoder, UntilCloseTakesEverything) {
  BodyDecoder decoder;
  decoder.reset(BodyFraming::kUntilClose, 0);
  BodyDecoder::Step step = decoder.feed("abc", 3);
  EXPECT_EQ(step.consumed, 3u);
  EXPECT_FALSE(step.done);
  step = decoder.feed("defg", 4);
  EXPECT_EQ(step.consumed, 4u);
  EXPECT_FALSE(decoder.done());
  EXPECT_EQ(decoder.payload_bytes(), 7u);
  EXPECT_TRUE(decoder.finish_on_close());
  EXPECT_TRUE(decoder.done());
}

TEST(BodyDecoder, CloseTruncatesFramedBodies) {
  BodyDecoder decoder;
  decoder.reset(BodyFraming::kContentLength, 10);
  decoder.feed("abc", 3);
  EXPECT_FALSE(decoder.finish_on_close());
  decoder.reset(BodyFraming::kChunked, 0);
  decoder.feed("3\r\nabc\r\n", 8);
  EXPECT_FALSE(decoder.finish_on_close());
  decoder.feed("0\r\n\r\n", 5);
  EXPECT_TRUE(decoder.done());
  EXPECT_TRUE(decoder.finish_on_close());
}

TEST(BodyDecoder, ChunkedBasics) {
  EXPECT_EQ(chunked("0\r\n\r\n"), (Outcome{5, true, Error::kNone, 0}));
  EXPECT_EQ(chunked("5\r\nhello\r\n0\r\n\r\n"), (Outcome{15, true, Error::kNone, 5}));
  EXPECT_EQ(chunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            (Outcome{26, true, Error::kNone, 11}));
  // Hex digits of either case, and leading zeros up to 16 digits.
  const std::string a(26, 'x');
  EXPECT_EQ(chunked("1A\r\n" + a + "\r\n0\r\n\r\n"), (Outcome{37, true, Error::kNone, 26}));
  EXPECT_EQ(chunked("1a\r\n" + a + "\r\n0\r\n\r\n"), (Outcome{37, true, Error::kNone, 26}));
  EXPECT_EQ(chunked("000000000000001a\r\n" + a + "\r\n0000000000000000\r\n\r\n").error,
            Error::kNone);
  // Chunk data may hold anything, CR and LF included.
  EXPECT_EQ(chunked("4\r\n\r\n\r\n\r\n0\r\n\r\n"), (Outcome{14, true, Error::kNone, 4}));
}

TEST(BodyDecoder, ChunkExtensions) {
  for (const char* line : {"5;a\r\n", "5;a=b\r\n", "5;a=\"b c\"\r\n", "5;a=\"q\\\"x\"\r\n",
                           "5;a;b=c;d=\"\"\r\n", "5;name=\"\xc3\xa9\"\r\n"}) {
    const std::string body = std::string(line) + "hello\r\n0;last\r\n\r\n";
    const Outcome o = chunked(body);
    EXPECT_EQ(o, (Outcome{body.size(), true, Error::kNone, 5})) << line;
  }
  for (const char* line : {"5;\r\n", "5;=b\r\n", "5;a=\r\n", "5;a=b c\r\n",
                           "5; a\r\n", "5;a =b\r\n", "5;a=\"b\r\n", "5;a=\"b\"c\r\n",
                           "5;a\x01\r\n", "5;a=\"\x01\"\r\n", "5;a=\"b\\\x01\"\r\n",
                           "5;a(b)\r\n"}) {
    EXPECT_EQ(chunked(std::string(line) + "hello\r\n0\r\n\r\n").error, Error::kBadChunk) << line;
  }
}

TEST(BodyDecoder, BadChunkSizes) {
  for (const char* line : {"\r\n", ";a\r\n", "-5\r\n", "+5\r\n", "0x5\r\n", " 5\r\n", "5 \r\n",
                           "5\t\r\n", "5 ;a\r\n", "g\r\n", "5\n", "10000000000000000\r\n",
                           "fffffffffffffffff\r\n", "00000000000000005\r\n"}) {
    EXPECT_EQ(chunked(std::string(line) + "hello\r\n0\r\n\r\n").error, Error::kBadChunkSize)
        << line;
  }
  // 16 digits is the most there can be; the decoder then waits for the data.
  const Outcome huge = chunked("ffffffffffffffff\r\nabc");
  EXPECT_EQ(huge, (Outcome{21, false, Error::kNone, 3}));
}

TEST(BodyDecoder, ChunkDataMustEndWithCrlf) {
  EXPECT_EQ(chunked("5\r\nhelloX\r\n0\r\n\r\n"), (Outcome{8, false, Error::kBadChunk, 5}));
  EXPECT_EQ(chunked("5\r\nhello\n0\r\n\r\n").error, Error::kBadChunk);
  EXPECT_EQ(chunked("5\r\nhello\rX0\r\n\r\n").error, Error::kBadChunk);
  EXPECT_EQ(chunked("5\r\nhello0\r\n\r\n").error, Error::kBadChunk);
  EXPECT_EQ(chunked("3\r\nhello\r\n0\r\n\r\n").error, Error::kBadChunk);
  EXPECT_EQ(chunked("5\rhello\r\n0\r\n\r\n").error, Error::kBadChunk);
}

TEST(BodyDecoder, Trailers) {
  const std::string ok = "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\t v \r\n\r\n";
  EXPECT_EQ(chunked(ok), (Outcome{ok.size(), true, Error::kNone, 5}));
  for (const char* trailer : {"X-A : b\r\n", " X: b\r\n", "X: b\r\n c\r\n", ": b\r\n",
                              "X\r\n", "X: b\n", "X: b\rc\r\n", "X: \x01\r\n", "X(: b\r\n"}) {
    EXPECT_EQ(chunked("0\r\n" + std::string(trailer) + "\r\n").error, Error::kBadTrailer)
        << trailer;
  }
  EXPECT_EQ(chunked("0\r\n\rX").error, Error::kBadTrailer);
  EXPECT_EQ(chunked("0\r\n\n").error, Error::kBadTrailer);
}

TEST(BodyDecoder, TrailerSizeLimit) {
  // The trailer section is the bytes after "0\r\n", final CRLF included.
  const std::string trailer = "X: " + std::string(20, 'a') + "\r\n\r\n";  // 27 bytes
  EXPECT_EQ(chunked("0\r\n" + trailer, 27).error, Error::kNone);
  EXPECT_TRUE(chunked("0\r\n" + trailer, 27).done);
  EXPECT_EQ(chunked("0\r\n" + trailer, 26).error, Error::kBadTrailer);
  EXPECT_EQ(chunked("0\r\n\r\n", 2).error, Error::kNone);
  EXPECT_EQ(chunked("0\r\n\r\n", 1).error, Error::kBadTrailer);
}

TEST(BodyDecoder, ChunkLineLengthIsBounded) {
  std::string line = "5;a=" + std::string(BodyDecoder::kMaxChunkLineBytes, 'b') + "\r\n";
  EXPECT_EQ(chunked(line + "hello\r\n0\r\n\r\n").error, Error::kBadChunk);
  line = "5;a=" + std::string(BodyDecoder::kMaxChunkLineBytes - 6, 'b') + "\r\n";  // exactly max
  EXPECT_EQ(chunked(line + "hello\r\n0\r\n\r\n").error, Error::kNone);
}

TEST(BodyDecoder, ErrorsAreSticky) {
  BodyDecoder decoder;
  decoder.reset(BodyFraming::kChunked, 0);
  BodyDecoder::Step step = decoder.feed("zz", 2);
  EXPECT_EQ(step.error, Error::kBadChunkSize);
  EXPECT_EQ(step.consumed, 0u);
  step = decoder.feed("0\r\n\r\n", 5);
  EXPECT_EQ(step.error, Error::kBadChunkSize);
  EXPECT_EQ(step.consumed, 0u);
  EXPECT_EQ(decoder.error(), Error::kBadChunkSize);
  EXPECT_FALSE(decoder.finish_on_close());
  decoder.reset(BodyFraming::kChunked, 0);
  EXPECT_EQ(decoder.error(), Error::kNone);
  EXPECT_TRUE(decoder.feed("0\r\n\r\n", 5).done);
}

TEST(BodyDecoder, ResetReusesTheDecoder) {
  BodyDecoder decoder;
  decoder.reset(BodyFraming::kChunked, 0);
  EXPECT_FALSE(decoder.feed("5\r\nhel", 6).done);
  decoder.reset(BodyFraming::kChunked, 0);
  const BodyDecoder::Step step = decoder.feed("2\r\nhi\r\n0\r\n\r\n", 12);
  EXPECT_TRUE(step.done);
  EXPECT_EQ(step.consumed, 12u);
  EXPECT_EQ(decoder.payload_bytes(), 2u);
}

struct SplitCase {
  BodyFraming framing;
  uint64_t length;
  std::string input;
};

// Every body, valid or not, cut at every position (and at every pair of positions) and fed byte
// by byte, must give the same outcome as fed whole; the pipelined request after it is never
// consumed.
TEST(BodyDecoder, EverySplitGivesTheSameResult) {
  const std::string next(kNext);
  const std::vector<SplitCase> cases = {
      {BodyFraming::kContentLength, 11, "hello world" + next},
      {BodyFraming::kChunked, 0, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" + next},
      {BodyFraming::kChunked, 0, "5;a=b;c=\"d;\\\"e\"\r\nhello\r\n0;x\r\nT: v\r\nU: w\r\n\r\n" + next},
      {BodyFraming::kChunked, 0, "A\r\n0123456789\r\n00\r\n\r\n" + next},
      {BodyFraming::kChunked, 0, "5\r\nhelloX\r\n0\r\n\r\n" + next},
      {BodyFraming::kChunked, 0, "5;a=\"b\r\nhello\r\n0\r\n\r\n" + next},
      {BodyFraming::kChunked, 0, "10000000000000000\r\n" + next},
      {BodyFraming::kChunked, 0, "0\r\nT: v\r\n w\r\n\r\n" + next},
      {BodyFraming::kChunked, 0, "5\r\nhello\r\n0\r\n\r"},
  };
  for (const SplitCase& c : cases) {
    const Outcome whole = feed_all(c.framing, c.length, c.input);
    if (whole.done) {
      EXPECT_EQ(c.input.substr(whole.consumed), next) << c.input;
    }
    for (size_t i = 0; i <= c.input.size(); ++i) {
      EXPECT_EQ(feed_split(c.framing, c.length, c.input, {i}), whole) << c.input << " @" << i;
      for (size_t j = i; j <= c.input.size(); ++j) {
        ASSERT_EQ(feed_split(c.framing, c.length, c.input, {i, j}), whole)
            << c.input << " @" << i << "," << j;
      }
    }
    std::vector<size_t> every;
    for (size_t i = 1; i < c.input.size(); ++i) every.push_back(i);
    EXPECT_EQ(feed_split(c.framing, c.length, c.input, every), whole) << c.input;
  }
}

}  // namespace
}  // namespace pharos::http1
