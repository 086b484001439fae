#include <gtest/gtest.h>

#include <string>

#include "engine/http1/parser.h"
#include "tests/engine/http1/http1_test_util.h"

namespace pharos::http1 {
namespace {

using testing::parse_response;
using testing::response_error;

constexpr std::string_view kTypicalResponse =
    "HTTP/1.1 200 OK\r\n"
    "Date: Mon, 27 Jul 2009 12:28:53 GMT\r\n"
    "Server: Apache\r\n"
    "Last-Modified: Wed, 22 Jul 2009 19:15:56 GMT\r\n"
    "ETag: \"34aa387-d-1568eb00\"\r\n"
    "Accept-Ranges: bytes\r\n"
    "Content-Length: 51\r\n"
    "Vary: Accept-Encoding\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n";

std::string response_with(std::string_view status_line, std::string_view fields) {
  return std::string(status_line) + "\r\n" + std::string(fields) + "\r\n";
}

TEST(ResponseParser, TypicalResponse) {
  ResponseHead head;
  const ParseResult r = parse_response(kTypicalResponse, &head);
  ASSERT_EQ(r.status, ParseStatus::kComplete) << error_name(r.error);
  EXPECT_EQ(head.version_minor, 1);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.reason, "OK");
  ASSERT_EQ(head.headers.size(), 8u);
  EXPECT_EQ(head.headers[3].value, "\"34aa387-d-1568eb00\"");
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, 51u);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.tunnel);
  EXPECT_EQ(head.head_bytes, kTypicalResponse.size());
}

TEST(ResponseParser, ReasonPhrase) {
  ResponseHead head;
  ASSERT_EQ(parse_response("HTTP/1.1 404 Not \t Found\xff\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.reason, "Not \t Found\xff");
  ASSERT_EQ(parse_response("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.reason, "");
  // Missing SP before an empty reason: tolerated.
  ASSERT_EQ(parse_response("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.reason, "");
}

TEST(ResponseParser, Framing) {
  ResponseHead head;
  ASSERT_EQ(parse_response(response_with("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\n"),
                           &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kChunked);
  EXPECT_TRUE(head.keep_alive);

  ASSERT_EQ(parse_response(
                response_with("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, CHUNKED\r\n"), &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kChunked);

  ASSERT_EQ(parse_response(response_with("HTTP/1.1 200 OK",
                                         "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
                           &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kChunked);

  // RFC 9112 6.3: chunked not applied means the body runs until close.
  ASSERT_EQ(parse_response(response_with("HTTP/1.1 200 OK", "Transfer-Encoding: gzip\r\n"), &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(head.keep_alive);

  ASSERT_EQ(parse_response(response_with("HTTP/1.1 200 OK", ""), &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseParser, ResponsesWithoutBody) {
  for (const char* line : {"HTTP/1.1 100 Continue", "HTTP/1.1 103 Early Hints",
                           "HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified"}) {
    ResponseHead head;
    ASSERT_EQ(parse_response(response_with(line, "Content-Length: 10\r\n"), &head).status,
              ParseStatus::kComplete)
        << line;
    EXPECT_EQ(head.framing, BodyFraming::kNone) << line;
    EXPECT_TRUE(head.keep_alive) << line;
    EXPECT_FALSE(head.tunnel) << line;
  }
  ResponseHead head;
  ASSERT_EQ(parse_response(response_with("HTTP/1.1 200 OK", "Content-Length: 10\r\n"), &head,
                           /*is_head_request=*/true)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_EQ(head.content_length, 10u);
  ASSERT_EQ(parse_response(response_with("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\n"),
                           &head, /*is_head_request=*/true)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_TRUE(head.keep_alive);
  // 204 without any framing field: no body, the connection stays usable.
  ASSERT_EQ(parse_response("HTTP/1.1 204 No Content\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_TRUE(head.keep_alive);
}

TEST(ResponseParser, Tunnels) {
  ResponseHead head;
  ASSERT_EQ(parse_response(response_with("HTTP/1.1 101 Switching Protocols",
                                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"),
                           &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.tunnel);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_FALSE(head.keep_alive);

  ASSERT_EQ(parse_response("HTTP/1.1 200 Connection established\r\n\r\n", &head, false,
                           /*request_was_connect=*/true)
                .status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.tunnel);
  EXPECT_EQ(head.framing, BodyFraming::kNone);

  // A refused CONNECT has an ordinary body.
  ASSERT_EQ(parse_response("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n", &head, false,
                           true)
                .status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.tunnel);
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
}

TEST(ResponseParser, KeepAlive) {
  ResponseHead head;
  ASSERT_EQ(parse_response(response_with("HTTP/1.1 200 OK", "Content-Length: 0\r\nConnection: close\r\n"),
                           &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse_response(response_with("HTTP/1.0 200 OK", "Content-Length: 0\r\n"), &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.version_minor, 0);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse_response(
                response_with("HTTP/1.0 200 OK", "Content-Length: 0\r\nConnection: keep-alive\r\n"),
                &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(parse_response(response_with("HTTP/1.0 200 OK", "Connection: keep-alive\r\n"), &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseParser, BadStatusLines) {
  EXPECT_EQ(response_error("HTTP/2 200 OK\r\n\r\n"), Error::kBadVersion);
  EXPECT_EQ(response_error("HTTP/1.2 200 OK\r\n\r\n"), Error::kBadVersion);
  EXPECT_EQ(response_error("HTTP/1.10 200 OK\r\n\r\n"), Error::kBadVersion);
  EXPECT_EQ(response_error("ICY 200 OK\r\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("http/1.1 200 OK\r\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1  200 OK\r\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 20 OK\r\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 2000 OK\r\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 099 OK\r\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 600 OK\r\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 20x OK\r\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 200 O\x01K\r\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 200 OK\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 200 OK\rX\r\n\r\n"), Error::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1\n200 OK\r\n\r\n"), Error::kBadStatusLine);
  // Refused before the head is complete.
  EXPECT_EQ(response_error("HTTP/3"), Error::kBadVersion);
  EXPECT_EQ(response_error("<html>"), Error::kBadStatusLine);
}

TEST(ResponseParser, BadFraming) {
  EXPECT_EQ(response_error(response_with(
                "HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")),
            Error::kConflictingFraming);
  EXPECT_EQ(response_error(response_with(
                "HTTP/1.1 200 OK", "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n")),
            Error::kConflictingFraming);
  EXPECT_EQ(response_error(response_with("HTTP/1.0 200 OK", "Transfer-Encoding: chunked\r\n")),
            Error::kBadTransferEncoding);
  for (const char* value : {"chunked, gzip", "chunked, chunked", "", "gzip,,chunked",
                            "chunked;x=1", "\"chunked\""}) {
    EXPECT_EQ(response_error(response_with("HTTP/1.1 200 OK",
                                           "Transfer-Encoding: " + std::string(value) + "\r\n")),
              Error::kBadTransferEncoding)
        << value;
  }
  EXPECT_EQ(response_error(response_with(
                "HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n")),
            Error::kBadTransferEncoding);
  EXPECT_EQ(response_error(response_with("HTTP/1.1 200 OK", "Content-Length: 1\r\nContent-Length: 2\r\n")),
            Error::kBadContentLength);
  EXPECT_EQ(response_error(response_with("HTTP/1.1 200 OK", "Content-Length: -1\r\n")),
            Error::kBadContentLength);
}

TEST(ResponseParser, FieldErrors) {
  EXPECT_EQ(response_error(response_with("HTTP/1.1 200 OK", "X: a\r\n b\r\n")), Error::kObsFold);
  EXPECT_EQ(response_error(response_with("HTTP/1.1 200 OK", "X : a\r\n")), Error::kBadHeaderName);
  EXPECT_EQ(response_error(response_with("HTTP/1.1 200 OK", std::string("X: a\0\r\n", 7))),
            Error::kBadHeaderValue);
}

TEST(ResponseParser, EveryPrefixIsIncomplete) {
  const std::string text(kTypicalResponse);
  for (size_t n = 0; n < text.size(); ++n) {
    const ParseResult r = parse_response(std::string_view(text).substr(0, n));
    EXPECT_EQ(r.status, ParseStatus::kIncomplete) << n << " " << error_name(r.error);
  }
}

TEST(ResponseParser, HeadSizeLimit) {
  Limits limits;
  limits.max_header_bytes = 32;
  ResponseHead head;
  const std::string text = "HTTP/1.1 200 OK\r\nX: " + std::string(40, 'a') + "\r\n\r\n";
  EXPECT_EQ(parse_response_head(text, limits, false, &head).error, Error::kHeadersTooLarge);
  EXPECT_EQ(parse_response_head(text.substr(0, 31), limits, false, &head).status,
            ParseStatus::kIncomplete);
}

}  // namespace
}  // namespace pharos::http1
