#include <gtest/gtest.h>

#include <string>

#include "engine/http1/parser.h"
#include "tests/engine/http1/http1_test_util.h"

namespace pharos::http1 {
namespace {

using testing::get_with;
using testing::parse_request;
using testing::post_with;
using testing::request_error;

constexpr std::string_view kBrowserGet =
    "GET /index.html?q=1 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=abc123; theme=dark\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "\r\n";

TEST(RequestParser, BrowserGet) {
  RequestHead head;
  const ParseResult r = parse_request(kBrowserGet, &head);
  ASSERT_EQ(r.status, ParseStatus::kComplete) << error_name(r.error);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/index.html?q=1");
  EXPECT_EQ(head.version_minor, 1);
  ASSERT_EQ(head.headers.size(), 10u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_EQ(head.headers[0].value, "www.example.com");
  EXPECT_EQ(head.headers[4].name, "Accept-Encoding");
  EXPECT_EQ(head.headers[4].value, "gzip, deflate, br");
  EXPECT_EQ(head.host, "www.example.com");
  EXPECT_EQ(head.user_agent.substr(0, 11), "Mozilla/5.0");
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_EQ(head.content_length, 0u);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_EQ(head.head_bytes, kBrowserGet.size());
}

TEST(RequestParser, MinimalRequests) {
  RequestHead head;
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_EQ(head.head_bytes, 27u);

  ASSERT_EQ(parse_request("GET / HTTP/1.0\r\n\r\n", &head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.version_minor, 0);
  EXPECT_FALSE(head.keep_alive);
  EXPECT_TRUE(head.host.empty());
  EXPECT_TRUE(head.headers.empty());
  EXPECT_EQ(head.head_bytes, 18u);
}

TEST(RequestParser, ViewsPointIntoTheCallersBuffer) {
  const std::string text = get_with("X-A: 1\r\n");
  RequestHead head;
  ASSERT_EQ(parse_request(text, &head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.method.data(), text.data());
  EXPECT_EQ(head.headers[1].value.data(), text.data() + text.rfind("1\r\n"));
}

TEST(RequestParser, ValuesAreOwsTrimmedAndMayBeEmpty) {
  const std::string text = get_with("X-A:   a \t b \t \r\nX-B:\r\nX-C: \t\r\nX-D:x\r\n");
  RequestHead head;  // its views point into text, which must outlive them
  ASSERT_EQ(parse_request(text, &head).status, ParseStatus::kComplete);
  ASSERT_EQ(head.headers.size(), 5u);
  EXPECT_EQ(head.headers[1].value, "a \t b");
  EXPECT_EQ(head.headers[2].value, "");
  EXPECT_EQ(head.headers[3].value, "");
  EXPECT_EQ(head.headers[4].value, "x");
}

TEST(RequestParser, ObsTextInValuesIsAccepted) {
  const std::string text = get_with("X-Name: caf\xc3\xa9\r\n");
  RequestHead head;
  ASSERT_EQ(parse_request(text, &head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.headers[1].value, "caf\xc3\xa9");
}

TEST(RequestParser, LeadingEmptyLinesAreSkippedAndCounted) {
  const std::string text = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse_request(text, &head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.head_bytes, text.size());
  EXPECT_EQ(request_error("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadRequestLine);
}

TEST(RequestParser, KeepAlive) {
  RequestHead head;
  ASSERT_EQ(parse_request(get_with("Connection: close\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse_request(get_with("Connection: Upgrade, CLOSE\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse_request(get_with("Connection: closed\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(parse_request(get_with("Connection: keep-alive\r\nConnection: close\r\n"), &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);

  ASSERT_EQ(parse_request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(parse_request("GET / HTTP/1.0\r\nConnection: x, keep-alive ,y\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(parse_request("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
}

TEST(RequestParser, ExpectContinue) {
  RequestHead head;
  ASSERT_EQ(parse_request(post_with("Expect: 100-Continue\r\nContent-Length: 3\r\n"), &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.expect_continue);
  ASSERT_EQ(parse_request(post_with("Expect: something\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.expect_continue);
  // RFC 9110 10.1.1: ignored in HTTP/1.0.
  ASSERT_EQ(parse_request("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.expect_continue);
}

TEST(RequestParser, ContentLengthFraming) {
  RequestHead head;
  ASSERT_EQ(parse_request(post_with("Content-Length: 42\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, 42u);

  ASSERT_EQ(parse_request(post_with("content-length: 0\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, 0u);

  ASSERT_EQ(parse_request(post_with("Content-Length: 18446744073709551615\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.content_length, UINT64_MAX);
  ASSERT_EQ(parse_request(post_with("Content-Length: 9999999999999999999\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.content_length, 9999999999999999999u);

  // Identical repeats, as separate lines or as a list, are one value (RFC 9110 8.6).
  ASSERT_EQ(parse_request(post_with("Content-Length: 7\r\nContent-Length: 7\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.content_length, 7u);
  ASSERT_EQ(parse_request(post_with("Content-Length: 7, 7,7\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.content_length, 7u);
}

TEST(RequestParser, ChunkedFraming) {
  RequestHead head;
  ASSERT_EQ(parse_request(post_with("Transfer-Encoding: chunked\r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kChunked);
  ASSERT_EQ(parse_request(post_with("transfer-encoding:   ChUnKeD  \r\n"), &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kChunked);
}

TEST(RequestParser, TargetForms) {
  RequestHead head;
  ASSERT_EQ(parse_request("GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n",
                          &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.target, "http://example.com/a?b");
  ASSERT_EQ(parse_request("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                          &head)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.target, "example.com:443");
  ASSERT_EQ(parse_request("CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  ASSERT_EQ(parse_request("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  ASSERT_EQ(parse_request("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  // Extension methods are tokens too.
  ASSERT_EQ(parse_request("M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.method, "M-SEARCH");

  EXPECT_EQ(request_error("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("CONNECT example.com:x HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("CONNECT u@example.com:1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Error::kBadTarget);
  EXPECT_EQ(request_error("CONNECT http://a:1/ HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("GET index.html HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("GET http:///a HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("GET http://a\"b/ HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(parse_request("GET HTTPS://a.example:8443?x HTTP/1.1\r\nHost: a\r\n\r\n").status,
            ParseStatus::kComplete);
  EXPECT_EQ(request_error("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadTarget);
  EXPECT_EQ(request_error(std::string("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 30)),
            Error::kBadTarget);
}

TEST(RequestParser, BadRequestLines) {
  EXPECT_EQ(request_error(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadRequestLine);
  EXPECT_EQ(request_error("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadRequestLine);
  EXPECT_EQ(request_error("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadRequestLine);
  EXPECT_EQ(request_error("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadMethod);
  EXPECT_EQ(request_error("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadMethod);
  EXPECT_EQ(request_error("G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadMethod);
  EXPECT_EQ(request_error("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), Error::kBadVersion);
  EXPECT_EQ(request_error("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), Error::kBadVersion);
  EXPECT_EQ(request_error("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), Error::kBadVersion);
  EXPECT_EQ(request_error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Error::kBadVersion);
  EXPECT_EQ(request_error("GET / http/1.1\r\nHost: a\r\n\r\n"), Error::kBadVersion);
  EXPECT_EQ(request_error("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), Error::kBadVersion);
  EXPECT_EQ(request_error("GET / HTTP/01.1\r\nHost: a\r\n\r\n"), Error::kBadVersion);
  EXPECT_EQ(request_error("GET /\r\n\r\n"), Error::kBadVersion);  // HTTP/0.9
  // Bare LF and bare CR in the request line.
  EXPECT_EQ(request_error("GET / HTTP/1.1\nHost: a\r\n\r\n"), Error::kBadRequestLine);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: a\n\n"), Error::kBadHeaderValue);
  EXPECT_EQ(request_error("GET / HTTP/1.1\rHost: a\r\n\r\n"), Error::kBadRequestLine);
  EXPECT_EQ(request_error("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kBadVersion);
}

TEST(RequestParser, BareLfLineEndingsAreRefused) {
  EXPECT_EQ(request_error("GET / HTTP/1.1\nHost: a\n\n"), Error::kBadRequestLine);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), Error::kBadHeaderValue);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: a\r\n\n"), Error::kBadHeaderName);
}

TEST(RequestParser, BadHeaderNames) {
  EXPECT_EQ(request_error(get_with("X-A : 1\r\n")), Error::kBadHeaderName);
  EXPECT_EQ(request_error(get_with("X-A\t: 1\r\n")), Error::kBadHeaderName);
  EXPECT_EQ(request_error(get_with("X A: 1\r\n")), Error::kBadHeaderName);
  EXPECT_EQ(request_error(get_with(": 1\r\n")), Error::kBadHeaderName);
  EXPECT_EQ(request_error(get_with("NoColon\r\n")), Error::kBadHeaderName);
  EXPECT_EQ(request_error(get_with("X(A): 1\r\n")), Error::kBadHeaderName);
  EXPECT_EQ(request_error(get_with("X\xc3\xa9: 1\r\n")), Error::kBadHeaderName);
  EXPECT_EQ(request_error(get_with("X-A: 1\r\n\rX: 1\r\n")), Error::kBadHeaderName);
  // A bad byte at every position of a name long enough to be scanned in blocks of four.
  const std::string name = "X-Forwarded-Host";
  for (size_t at = 0; at < name.size(); ++at) {
    for (char bad : {' ', '(', '@', '\x7f', '\xc3'}) {
      if (at == 0 && bad == ' ') continue;  // leading whitespace is obs-fold, its own error
      std::string broken = name;
      broken[at] = bad;
      EXPECT_EQ(request_error(get_with(broken + ": 1\r\n")), Error::kBadHeaderName) << broken;
    }
  }
  RequestHead head;
  ASSERT_EQ(parse_request(get_with(name + ": 1\r\n"), &head).status, ParseStatus::kComplete);
}

TEST(RequestParser, BadHeaderValues) {
  EXPECT_EQ(request_error(get_with(std::string("X-A: a\0b\r\n", 10))), Error::kBadHeaderValue);
  EXPECT_EQ(request_error(get_with("X-A: a\x01" "b\r\n")), Error::kBadHeaderValue);
  EXPECT_EQ(request_error(get_with("X-A: a\x7f\r\n")), Error::kBadHeaderValue);
  EXPECT_EQ(request_error(get_with("X-A: a\rb\r\n")), Error::kBadHeaderValue);
  EXPECT_EQ(request_error(get_with("X-A: a\nb\r\n")), Error::kBadHeaderValue);
  EXPECT_EQ(request_error(get_with("X-A: a\r\r\n")), Error::kBadHeaderValue);
}

// Values are scanned 16 bytes at a time; put each kind of byte at every offset of long values.
TEST(RequestParser, ValueBytesAtEveryOffset) {
  RequestHead head;
  for (size_t len = 1; len <= 48; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      std::string value(len, 'v');
      for (char bad : {'\0', '\x01', '\x1f', '\x7f', '\n', '\r'}) {
        value[pos] = bad;
        EXPECT_EQ(request_error(get_with("X-A: " + value + "\r\n")), Error::kBadHeaderValue)
            << len << " " << pos << " " << static_cast<int>(bad);
      }
      for (char good : {'\t', ' ', '\x80', '\xff', '~', '!'}) {
        value[pos] = good;
        const std::string text = get_with("X-A: <" + value + ">\r\n");
        ASSERT_EQ(parse_request(text, &head).status, ParseStatus::kComplete)
            << len << " " << pos << " " << static_cast<int>(good);
        EXPECT_EQ(head.headers[1].value, "<" + value + ">");
      }
    }
  }
}

TEST(RequestParser, ObsFoldIsRefused) {
  EXPECT_EQ(request_error(get_with("X-A: a\r\n b\r\n")), Error::kObsFold);
  EXPECT_EQ(request_error(get_with("X-A: a\r\n\tb\r\n")), Error::kObsFold);
  // A field line starting with whitespace right after the request line.
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\n Host: a\r\nHost: a\r\n\r\n"), Error::kObsFold);
}

TEST(RequestParser, Host) {
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\n\r\n"), Error::kMissingHost);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n"), Error::kMissingHost);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), Error::kDuplicateHost);
  EXPECT_EQ(request_error("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), Error::kDuplicateHost);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), Error::kBadHeaderValue);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), Error::kBadHeaderValue);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"), Error::kBadHeaderValue);
  RequestHead head;
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nHOST:  a.example:8080 \r\n\r\n", &head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.host, "a.example:8080");
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n", &head).status,
            ParseStatus::kComplete);
  // RFC 9112 3.2: an empty Host is valid when the target has no authority.
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nHost:\r\n\r\n", &head).status,
            ParseStatus::kComplete);
}

TEST(RequestParser, BadContentLength) {
  for (const char* value : {"+5", "-5", "5 5", "5a", "0x5", "", " ", "5,", ",5", "5,,5", "5, 6",
                            "1.0", "18446744073709551616", "99999999999999999999999"}) {
    EXPECT_EQ(request_error(post_with("Content-Length: " + std::string(value) + "\r\n")),
              Error::kBadContentLength)
        << value;
  }
  EXPECT_EQ(request_error(post_with("Content-Length: 5\r\nContent-Length: 6\r\n")),
            Error::kBadContentLength);
  EXPECT_EQ(request_error(post_with("Content-Length: 5\r\nContent-Length: 5, 6\r\n")),
            Error::kBadContentLength);
}

TEST(RequestParser, BadTransferEncoding) {
  for (const char* value : {"xchunked", "chunkedx", "chunked, identity", "identity, chunked",
                            "gzip, chunked", "chunked,", "\"chunked\"", "chunked;q=1", "identity",
                            "", "chun ked"}) {
    EXPECT_EQ(request_error(post_with("Transfer-Encoding: " + std::string(value) + "\r\n")),
              Error::kBadTransferEncoding)
        << value;
  }
  EXPECT_EQ(request_error(post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")),
            Error::kBadTransferEncoding);
  EXPECT_EQ(request_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Error::kBadTransferEncoding);
  EXPECT_EQ(request_error(post_with("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n")),
            Error::kConflictingFraming);
  EXPECT_EQ(request_error(post_with("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n")),
            Error::kConflictingFraming);
}

TEST(RequestParser, TooManyHeaders) {
  Limits limits;
  limits.max_headers = 5;
  std::string fields;
  for (int i = 0; i < 4; ++i) fields += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(request_error(get_with(fields), limits), Error::kNone);  // Host + 4 = 5
  EXPECT_EQ(request_error(get_with(fields + "X-Last: v\r\n"), limits), Error::kTooManyHeaders);
}

TEST(RequestParser, HeadSizeLimit) {
  Limits limits;
  limits.max_header_bytes = 64;
  std::string text = get_with("X: ");  // 38 bytes without the padding; pad to exactly 64
  text.insert(text.size() - 2, std::string(64 - text.size() - 2, 'a'));
  text += "\r\n";
  ASSERT_EQ(text.size(), 64u);
  RequestHead head;
  ASSERT_EQ(parse_request(text, &head, limits).status, ParseStatus::kComplete);
  EXPECT_EQ(head.head_bytes, 64u);
  // The same head with a body after it: still complete.
  ASSERT_EQ(parse_request(text + "BODY", &head, limits).status, ParseStatus::kComplete);
  EXPECT_EQ(head.head_bytes, 64u);

  // One byte longer: too large, whether or not it is all there yet.
  std::string longer = text;
  longer.insert(40, "a");
  EXPECT_EQ(request_error(longer, limits), Error::kHeadersTooLarge);
  EXPECT_EQ(request_error(longer.substr(0, 64), limits), Error::kHeadersTooLarge);
  EXPECT_EQ(parse_request(longer.substr(0, 63), nullptr, limits).status,
            ParseStatus::kIncomplete);
  // A syntax error inside the limit wins over the size.
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nX-A: \x01" + std::string(100, 'a'), limits),
            Error::kBadHeaderValue);
  // Empty lines before the request line count against the limit.
  EXPECT_EQ(request_error(std::string(64, '\r').replace(1, 63, std::string(63, '\n')), limits),
            Error::kBadRequestLine);
  std::string crlfs;
  for (int i = 0; i < 32; ++i) crlfs += "\r\n";
  EXPECT_EQ(request_error(crlfs, limits), Error::kHeadersTooLarge);
}

TEST(RequestParser, EveryPrefixIsIncomplete) {
  const std::string text = std::string(kBrowserGet);
  for (size_t n = 0; n < text.size(); ++n) {
    const ParseResult r = parse_request(std::string_view(text).substr(0, n));
    EXPECT_EQ(r.status, ParseStatus::kIncomplete) << n << " " << error_name(r.error);
  }
  EXPECT_EQ(parse_request(text).status, ParseStatus::kComplete);
}

TEST(RequestParser, ClearKeepsCapacityAndResetsFields) {
  RequestHead head;
  ASSERT_EQ(parse_request(kBrowserGet, &head).status, ParseStatus::kComplete);
  const size_t capacity = head.headers.capacity();
  const Header* storage = head.headers.data();
  ASSERT_EQ(parse_request("GET / HTTP/1.0\r\n\r\n", &head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.headers.capacity(), capacity);
  EXPECT_EQ(head.headers.data(), storage);
  EXPECT_TRUE(head.host.empty());
  EXPECT_TRUE(head.user_agent.empty());
  EXPECT_FALSE(head.keep_alive);
  head.clear();
  EXPECT_TRUE(head.method.empty());
  EXPECT_EQ(head.head_bytes, 0u);
  EXPECT_EQ(head.headers.capacity(), capacity);
}

TEST(RequestParser, FirstUserAgentWins) {
  const std::string text = get_with("User-Agent: one\r\nuser-agent: two\r\n");
  RequestHead head;
  ASSERT_EQ(parse_request(text, &head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.user_agent, "one");
}

}  // namespace
}  // namespace pharos::http1
