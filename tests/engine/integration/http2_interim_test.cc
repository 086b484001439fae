// Interim (1xx) responses and trailers across the engine's h2 <-> HTTP/1.1 boundary, end to end:
// real nghttp and curl clients, the real engine, and a scripted HTTP/1.1 member (on the
// harness's LoopbackServer) that sends what the demo backend cannot (103 Early Hints, 100
// Continue on demand, chunked trailers) and keeps every request exactly as it arrived.
#include <sys/socket.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tests/engine/integration/h2c_front.h"

namespace pharos::itest {
namespace {

// ---- the scripted member ----

// Where the chunked body starting at `at` ends (past its trailer section), or npos while it is
// incomplete. *payload: the chunk data bytes.
size_t chunked_end(const std::string& in, size_t at, size_t* payload) {
  *payload = 0;
  for (;;) {
    size_t eol = in.find("\r\n", at);
    if (eol == std::string::npos) return std::string::npos;
    size_t size = std::strtoul(in.substr(at, eol - at).c_str(), nullptr, 16);
    at = eol + 2;
    if (size == 0) {
      for (;;) {
        size_t end = in.find("\r\n", at);
        if (end == std::string::npos) return std::string::npos;
        if (end == at) return at + 2;
        at = end + 2;
      }
    }
    if (in.size() < at + size + 2) return std::string::npos;
    *payload += size;
    at += size + 2;
  }
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// An HTTP/1.1 member with fixed answers by path:
//   /early-hints   103 (Link, and a Connection field that must not cross), then 200 "hello\n"
//   /trailers      a chunked 200 "hello\n" whose trailer section mixes allowed and forbidden fields
//   /big-trailers  a chunked 200 whose trailer section is over the engine's trailer limit
//   /upload        100 Continue when asked, then 200 "body-bytes: N\n" once the body is in
//   /refuse        413 at once, without reading the body, then close
//   anything else  200 "ok\n"
class ScriptedMember {
 public:
  uint16_t port() const { return server_.port(); }
  // Every request as it arrived (head and framed body), in order.
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  // Where a connection is in its current request; its input is the server's.
  struct Connection {
    size_t head_bytes = 0;  // nonzero once the head of the current request is parsed
    std::string path;
    size_t content_length = 0;
    bool chunked = false;
  };

  void send_all(int fd, const std::string& bytes) {
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }

  // Handles whatever whole requests `in` holds; false to close the connection.
  bool serve(int fd, std::string& in) {
    Connection& c = connections_[fd];
    for (;;) {
      if (c.head_bytes == 0) {
        size_t end = in.find("\r\n\r\n");
        if (end == std::string::npos) return true;
        c.head_bytes = end + 4;
        std::string head = lower(in.substr(0, end));
        size_t sp = head.find(' ');
        c.path = in.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
        size_t at = head.find("\r\ncontent-length:");
        c.content_length = at == std::string::npos ? 0 : std::strtoull(head.c_str() + at + 17, nullptr, 10);
        c.chunked = head.find("\r\ntransfer-encoding: chunked") != std::string::npos;
        bool expect = head.find("\r\nexpect: 100-continue") != std::string::npos;
        if (c.path == "/refuse") {
          record(in.substr(0, c.head_bytes));
          send_all(fd, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo big!\n");
          return false;
        }
        if (expect) send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
      }
      size_t payload = c.content_length;
      size_t end = c.head_bytes + c.content_length;
      if (c.chunked) end = chunked_end(in, c.head_bytes, &payload);
      if (end == std::string::npos || in.size() < end) return true;
      record(in.substr(0, end));
      in.erase(0, end);
      c.head_bytes = 0;
      send_all(fd, answer(c.path, payload));
    }
  }

  static std::string answer(const std::string& path, size_t payload) {
    if (path == "/early-hints") {
      return "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nConnection: keep-alive\r\n\r\n"
             "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n";
    }
    if (path == "/trailers") {
      return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum, Grpc-Status\r\n\r\n"
             "6\r\nhello\n\r\n0\r\n"
             "X-Checksum: abc123\r\nSet-Cookie: stolen=1\r\nContent-Length: 99\r\nGrpc-Status:  0 \r\n\r\n";
    }
    if (path == "/big-trailers") {
      return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n0\r\n"
             "X-Big: " + std::string(5000, 'b') + "\r\n\r\n";
    }
    std::string body = path == "/upload" ? "body-bytes: " + std::to_string(payload) + "\n" : "ok\n";
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  void record(std::string request) {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(std::move(request));
  }

  std::map<int, Connection> connections_;  // the server's thread alone uses it
  std::mutex mutex_;
  std::vector<std::string> requests_;
  LoopbackServer server_{[this](int fd, std::string& in) { return serve(fd, in); },
                         [this](int fd) { connections_[fd] = Connection{}; }};
};

// ---- the setup ----

class Http2InterimTest : public H2cFrontTest {
 protected:
  void start(const json& http2 = json::object()) { start_front(member_.port(), json::object(), http2); }

  ScriptedMember member_;
};

TEST_F(Http2InterimTest, EarlyHintsReachTheClientAsNonFinalHeaders) {
  start();
  RunResult r = nghttp({url("/early-hints")}, "nghttp.log");
  ASSERT_EQ(r.status, 0) << r.output;
  // nghttp -v: the 103 block, its HEADERS frame without END_STREAM, then the final 200.
  auto [hints, final_status] = expect_early_hints_then_200(r.output);
  if (final_status != std::string::npos) {
    EXPECT_EQ(r.output.substr(hints, final_status - hints).find("connection"), std::string::npos) << r.output;
  }
  EXPECT_NE(r.output.find("hello\n"), std::string::npos) << r.output;

  // The record and the response classes are the final response's.
  records::TransactionRecord record = one_record();
  EXPECT_EQ(record.status, 200);
  EXPECT_EQ(record.termination, records::Termination::kNormal);
  EXPECT_EQ(member_responses("1xx"), 0u);
  EXPECT_EQ(member_responses("2xx"), 1u);
  EXPECT_EQ(engine_->stats()["listeners"]["listener"]["request_errors"], 0);
}

TEST_F(Http2InterimTest, ResponseTrailersBecomeATrailingHeadersFrame) {
  start();
  RunResult r = nghttp({url("/trailers")}, "nghttp.log");
  ASSERT_EQ(r.status, 0) << r.output;
  size_t body = r.output.find("hello\n");
  size_t checksum = find_after(r.output, "x-checksum: abc123", body);
  size_t status = find_after(r.output, "grpc-status: 0\n", checksum);  // lower-cased and trimmed
  size_t frame = find_after(r.output, "recv HEADERS frame", status);
  size_t flags = find_after(r.output, "flags=0x05", frame);  // END_STREAM | END_HEADERS
  EXPECT_NE(flags, std::string::npos) << r.output;
  // Fields a trailer must not carry do not cross.
  EXPECT_EQ(r.output.find("stolen"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("content-length: 99"), std::string::npos) << r.output;
  EXPECT_EQ(one_record().status, 200);

  // "te: trailers" (the only TE h2 allows) tells the member its trailers will be delivered.
  r = nghttp({"-H", "te: trailers", url("/trailers")}, "nghttp-te.log");
  ASSERT_EQ(r.status, 0) << r.output;
  auto requests = member_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[1].find("\r\nTE: trailers\r\nConnection: TE\r\n"), std::string::npos) << requests[1];

  // curl sees the same trailers and a clean end.
  RunResult c = run_to_completion({"/usr/bin/curl", "-sS", "-i", "--http2-prior-knowledge", url("/trailers")},
                                  dir_.file("curl.log"), 20000);
  ASSERT_EQ(c.status, 0) << c.output;
  EXPECT_NE(c.output.find("x-checksum: abc123"), std::string::npos) << c.output;
}

TEST_F(Http2InterimTest, ResponseTrailersOverTheLimitResetTheStream) {
  start();
  RunResult r = nghttp({url("/big-trailers")}, "nghttp.log");
  EXPECT_NE(r.output.find("RST_STREAM"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("INTERNAL_ERROR"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("x-big"), std::string::npos) << r.output;
  records::TransactionRecord record = one_record();
  EXPECT_EQ(record.termination, records::Termination::kBadResponse);
}

TEST_F(Http2InterimTest, RequestTrailersReachTheMemberInAChunkedBody) {
  start();
  std::string body_path = dir_.file("upload.bin");
  write_file(body_path, std::string(100000, 'p'));
  RunResult r = nghttp({"--no-content-length", "-d", body_path, "--trailer", "x-checksum: 42",
                        "--trailer", "authorization: Basic c2VjcmV0", url("/upload")},
                       "nghttp.log");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("body-bytes: 100000"), std::string::npos) << r.output;
  auto requests = member_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const std::string& request = requests[0];
  EXPECT_NE(request.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << request.substr(0, 400);
  const std::string last_chunk = "\r\n0\r\nx-checksum: 42\r\n\r\n";
  ASSERT_GT(request.size(), last_chunk.size());
  EXPECT_EQ(request.substr(request.size() - last_chunk.size()), last_chunk);
  EXPECT_EQ(request.find("c2VjcmV0"), std::string::npos) << "a forbidden trailer field crossed";
  EXPECT_EQ(one_record().status, 200);

  // With a content-length the body keeps it, and HTTP/1.1 cannot carry the trailers.
  r = nghttp({"-d", body_path, "--trailer", "x-checksum: 42", url("/upload")}, "nghttp-cl.log");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("body-bytes: 100000"), std::string::npos) << r.output;
  requests = member_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[1].find("\r\nContent-Length: 100000\r\n"), std::string::npos) << requests[1].substr(0, 400);
  EXPECT_EQ(requests[1].find("x-checksum: 42"), std::string::npos) << requests[1].substr(0, 400);
}

TEST_F(Http2InterimTest, RequestTrailersOverTheLimitGet431) {
  start({{"max_header_list_bytes", 2048}});
  std::string body_path = dir_.file("upload.bin");
  write_file(body_path, std::string(1000, 'p'));
  RunResult r = nghttp({"--no-content-length", "-d", body_path, "--trailer", "x-big: " + std::string(3000, 't'),
                        url("/upload")},
                       "nghttp.log");
  EXPECT_NE(r.output.find(":status: 431"), std::string::npos) << r.output;
  records::TransactionRecord record = one_record();
  EXPECT_EQ(record.status, 431);
  EXPECT_EQ(record.termination, records::Termination::kBadRequest);
  // The member saw at most the head and part of the body, never a finished request.
  for (const auto& request : member_.requests()) EXPECT_EQ(request.find("x-big"), std::string::npos);
}

TEST_F(Http2InterimTest, ExpectContinueIsForwardedAndTheMembers100Relayed) {
  start();
  expect_continue_relayed();  // the 100 can only come from the member
  if (HasFatalFailure()) return;
  auto requests = member_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_NE(requests[0].find("\r\nexpect: 100-continue\r\n"), std::string::npos) << requests[0].substr(0, 400);
  records::TransactionRecord record = one_record();
  EXPECT_EQ(record.status, 200);
  EXPECT_EQ(member_responses("1xx"), 0u);
  EXPECT_EQ(member_responses("2xx"), 1u);
}

TEST_F(Http2InterimTest, AMemberRefusingTheBodyStopsTheUpload) {
  start();
  std::string body_path = dir_.file("upload.bin");
  write_file(body_path, std::string(200000, 'e'));
  RunResult r = nghttp({"--expect-continue", "-d", body_path, url("/refuse")}, "nghttp.log");
  EXPECT_NE(r.output.find(":status: 413"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("too big!"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("send DATA frame"), std::string::npos) << "the client sent the body anyway: " << r.output;
  // The response is whole: the stream ends with RST_STREAM NO_ERROR so the client stops.
  size_t reset = r.output.find("recv RST_STREAM");
  EXPECT_NE(find_after(r.output, "error_code=NO_ERROR", reset), std::string::npos) << r.output;
  records::TransactionRecord record = one_record();
  EXPECT_EQ(record.status, 413);
  EXPECT_EQ(record.termination, records::Termination::kNormal);
  EXPECT_EQ(engine_->stats()["listeners"]["listener"]["request_errors"], 0);
}

TEST_F(Http2InterimTest, Http1ClientsGetInterimResponsesExceptOverHttp10) {
  start();
  HttpConnection c11(port_);
  ASSERT_TRUE(c11.send("GET /early-hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  HttpResponse hints = c11.read_response();
  ASSERT_TRUE(hints.ok) << hints.error;
  EXPECT_EQ(hints.status, 103);
  EXPECT_EQ(hints.header("link"), "</style.css>; rel=preload");
  HttpResponse final_response = c11.read_response();
  ASSERT_TRUE(final_response.ok) << final_response.error;
  EXPECT_EQ(final_response.status, 200);
  EXPECT_EQ(final_response.body, "hello\n");

  HttpConnection c10(port_);
  ASSERT_TRUE(c10.send("GET /early-hints HTTP/1.0\r\nHost: x\r\n\r\n"));
  HttpResponse only = c10.read_response();
  ASSERT_TRUE(only.ok) << only.error;
  EXPECT_EQ(only.status, 200);  // RFC 9110 15.2: no 1xx to an HTTP/1.0 client
  EXPECT_EQ(only.body, "hello\n");
  std::string problem;
  auto got = records_->read(2, 5000, &problem);
  ASSERT_EQ(got.size(), 2u) << problem;
  for (const auto& record : got) EXPECT_EQ(record.status, 200);
}

}  // namespace
}  // namespace pharos::itest
