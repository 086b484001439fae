// Request-smuggling vectors (CL.TE, TE.CL, TE.TE and friends) and pipelining: the parser must
// refuse every ambiguous framing and, for valid messages, stop exactly at the message boundary.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/http1/parser.h"
#include "tests/engine/http1/http1_test_util.h"

namespace pharos::http1 {
namespace {

using testing::parse_request;
using testing::request_error;

struct Vector {
  const char* name;
  std::string request;
  Error expected;
};

std::string post(std::string_view fields, std::string_view body = "") {
  return "POST / HTTP/1.1\r\nHost: victim.example\r\n" + std::string(fields) + "\r\n" +
         std::string(body);
}

class SmugglingVectors : public ::testing::TestWithParam<Vector> {};

TEST_P(SmugglingVectors, AreRefused) {
  const Vector& v = GetParam();
  EXPECT_EQ(request_error(v.request), v.expected)
      << v.name << ": got " << error_name(request_error(v.request));
}

INSTANTIATE_TEST_SUITE_P(
    Http1, SmugglingVectors,
    ::testing::Values(
        Vector{"cl_te", post("Content-Length: 13\r\nTransfer-Encoding: chunked\r\n",
                             "0\r\n\r\nSMUGGLED"),
               Error::kConflictingFraming},
        Vector{"te_cl", post("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
                             "8\r\nSMUGGLED\r\n0\r\n\r\n"),
               Error::kConflictingFraming},
        Vector{"te_space_before_colon", post("Transfer-Encoding : chunked\r\n"),
               Error::kBadHeaderName},
        Vector{"te_tab_before_colon", post("Transfer-Encoding\t: chunked\r\n"),
               Error::kBadHeaderName},
        Vector{"cl_space_before_colon", post("Content-Length : 5\r\n"), Error::kBadHeaderName},
        Vector{"te_xchunked", post("Transfer-Encoding: xchunked\r\n"),
               Error::kBadTransferEncoding},
        Vector{"te_chunked_identity", post("Transfer-Encoding: chunked, identity\r\n"),
               Error::kBadTransferEncoding},
        Vector{"te_identity_chunked", post("Transfer-Encoding: identity, chunked\r\n"),
               Error::kBadTransferEncoding},
        Vector{"te_twice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n"),
               Error::kBadTransferEncoding},
        Vector{"te_quoted", post("Transfer-Encoding: \"chunked\"\r\n"),
               Error::kBadTransferEncoding},
        Vector{"te_vertical_tab", post("Transfer-Encoding: \x0b" "chunked\r\n"),
               Error::kBadHeaderValue},
        Vector{"te_nul", post(std::string("Transfer-Encoding: chunked\0\r\n", 29)),
               Error::kBadHeaderValue},
        // The empty TE value is refused before the fold is even seen.
        Vector{"te_obs_fold", post("Transfer-Encoding:\r\n chunked\r\n"),
               Error::kBadTransferEncoding},
        Vector{"te_obs_fold_value", post("Transfer-Encoding: chunked\r\n identity\r\n"),
               Error::kObsFold},
        Vector{"te_obs_fold_after_other", post("X: a\r\n Transfer-Encoding: chunked\r\n"),
               Error::kObsFold},
        Vector{"te_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
               Error::kBadTransferEncoding},
        Vector{"te_bare_lf", post("Transfer-Encoding: chunked\n"), Error::kBadHeaderValue},
        Vector{"te_bare_cr", post("X: a\rTransfer-Encoding: chunked\r\n"),
               Error::kBadHeaderValue},
        Vector{"cl_differing", post("Content-Length: 5\r\nContent-Length: 6\r\n"),
               Error::kBadContentLength},
        Vector{"cl_list_differing", post("Content-Length: 5, 6\r\n"), Error::kBadContentLength},
        Vector{"cl_plus", post("Content-Length: +5\r\n"), Error::kBadContentLength},
        Vector{"cl_minus", post("Content-Length: -5\r\n"), Error::kBadContentLength},
        Vector{"cl_inner_space", post("Content-Length: 1 0\r\n"), Error::kBadContentLength},
        Vector{"cl_hex", post("Content-Length: 0x10\r\n"), Error::kBadContentLength},
        Vector{"cl_overflow", post("Content-Length: 18446744073709551617\r\n"),
               Error::kBadContentLength},
        Vector{"cl_nul", post(std::string("Content-Length: 5\0\r\n", 20)),
               Error::kBadHeaderValue},
        Vector{"header_name_space", post("X Forwarded: a\r\n"), Error::kBadHeaderName},
        Vector{"nul_in_value", post(std::string("X-A: a\0b\r\n", 10)), Error::kBadHeaderValue},
        Vector{"obs_fold", post("X-A: a\r\n\tb\r\n"), Error::kObsFold},
        Vector{"duplicate_host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
               Error::kDuplicateHost},
        Vector{"missing_host", "GET / HTTP/1.1\r\n\r\n", Error::kMissingHost},
        Vector{"bare_lf_request_line", "GET / HTTP/1.1\nHost: a\r\n\r\n",
               Error::kBadRequestLine},
        Vector{"bare_cr_request_line", "GET / HTTP/1.1\rHost: a\r\n\r\n",
               Error::kBadRequestLine}),
    [](const ::testing::TestParamInfo<Vector>& info) { return std::string(info.param.name); });

// Parses a head then its body, the way the proxy does, and returns where the message ends.
size_t message_end(std::string_view buffer, RequestHead* head) {
  EXPECT_EQ(parse_request_head(buffer, Limits{}, head).status, ParseStatus::kComplete);
  BodyDecoder decoder;
  decoder.reset(head->framing, head->content_length);
  const std::string_view body = buffer.substr(head->head_bytes);
  const BodyDecoder::Step step = decoder.feed(body.data(), body.size());
  EXPECT_EQ(step.error, Error::kNone);
  EXPECT_TRUE(step.done);
  return head->head_bytes + step.consumed;
}

TEST(Pipelining, TwoGetsInOneBuffer) {
  const std::string first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string second = "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string buffer = first + second;
  RequestHead head;
  ASSERT_EQ(message_end(buffer, &head), first.size());
  EXPECT_EQ(head.head_bytes, first.size());
  EXPECT_EQ(head.target, "/a");
  ASSERT_EQ(message_end(std::string_view(buffer).substr(first.size()), &head), second.size());
  EXPECT_EQ(head.target, "/b");
}

TEST(Pipelining, ContentLengthBodyThenNextRequest) {
  const std::string first = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  const std::string second = "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestHead head;
  EXPECT_EQ(message_end(first + second, &head), first.size());
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
}

TEST(Pipelining, ChunkedBodyThenNextRequest) {
  const std::string first =
      "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
  const std::string second = "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestHead head;
  EXPECT_EQ(message_end(first + second, &head), first.size());
  EXPECT_EQ(head.framing, BodyFraming::kChunked);
}

TEST(Pipelining, ChunkedBodyEndingLooksLikeAnotherChunk) {
  // A "0\r\n\r\n" inside chunk data is data, not the end of the message.
  const std::string first =
      "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\n0\r\n\r\n\r\n0\r\n\r\n";
  const std::string second = "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestHead head;
  EXPECT_EQ(message_end(first + second, &head), first.size());
}

TEST(Pipelining, HeadArrivingInPiecesAfterABody) {
  // The second request arrives byte by byte after the first; it is incomplete until its last
  // byte and then complete with the same head_bytes.
  const std::string second = "GET /b HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
  RequestHead head;
  for (size_t n = 0; n < second.size(); ++n) {
    EXPECT_EQ(parse_request(std::string_view(second).substr(0, n), &head).status,
              ParseStatus::kIncomplete);
  }
  ASSERT_EQ(parse_request(second, &head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.head_bytes, second.size());
}

TEST(HugeChunkSize, IsRefused) {
  // A chunk size too large for 64 bits must not wrap to a small one.
  const std::string request = post("Transfer-Encoding: chunked\r\n");
  RequestHead head;
  ASSERT_EQ(parse_request(request, &head).status, ParseStatus::kComplete);
  BodyDecoder decoder;
  decoder.reset(head.framing, head.content_length);
  const std::string body = "10000000000000005\r\nhello\r\n0\r\n\r\n";
  EXPECT_EQ(decoder.feed(body.data(), body.size()).error, Error::kBadChunkSize);
}

TEST(MissingCrlfAfterChunkData, IsRefused) {
  BodyDecoder decoder;
  decoder.reset(BodyFraming::kChunked, 0);
  // TE.0 style: the decoder must not resynchronise on the next digits.
  const std::string body = "3\r\nabc0\r\n\r\nGET /smuggled HTTP/1.1\r\n";
  const BodyDecoder::Step step = decoder.feed(body.data(), body.size());
  EXPECT_EQ(step.error, Error::kBadChunk);
  EXPECT_EQ(step.consumed, 6u);
}

}  // namespace
}  // namespace pharos::http1
