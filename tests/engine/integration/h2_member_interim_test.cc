// Interim (1xx) responses and trailers across the engine towards h2 members, end to end: real
// nghttp clients and raw HTTP/1.x sockets, the real engine with an h2c pool, and a scripted h2
// member in the test (the engine's own server codec on a socket) that sends what a file server
// cannot (103 Early Hints, 100 Continue on demand, response trailers) and keeps every request's
// head, body size and trailer section as it arrived.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/http2/server_connection.h"
#include "tests/engine/integration/h2c_front.h"

namespace pharos::itest {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- the scripted h2 member ----

struct MemberRequest {
  http::RequestHead head;
  size_t body_bytes = 0;
  std::vector<http::Header> trailers;

  std::string header(const std::string& name) const {
    for (const auto& field : head.headers) {
      if (field.name == name) return field.value;
    }
    return "";
  }
};

// An h2c member (prior knowledge) with fixed answers by path:
//   /early-hints   103 (Link), then 200 "hello\n" with a content-length
//   /trailers      200 "hello\n" without content-length, then a trailer section mixing allowed
//                  and forbidden fields
//   /big-trailers  200 "hello\n", then a trailer section over the engine's trailer limit
//   /upload        100 Continue when asked, then 200 "body-bytes: N\n" once the body is in
//   anything else  200 "ok\n"
class ScriptedH2Member {
 public:
  ScriptedH2Member() : server_([this] { return std::make_unique<Connection>(*this); }) {}
  uint16_t port() const { return server_.port(); }
  // Every whole request, in the order they ended.
  std::vector<MemberRequest> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  // One client connection: the server codec and what its streams have received so far.
  class Connection final : public PeerServer::Peer, private http2::ServerConnection::Handler {
   public:
    explicit Connection(ScriptedH2Member& member) : member_(member), codec_(*this, config::Http2Limits{}, 0) {}
    std::string greeting() override {
      codec_.flush();
      return take_output();
    }
    bool feed(const char* data, size_t length, std::string* reply) override {
      bool open = codec_.feed(reinterpret_cast<const uint8_t*>(data), length, 0);
      codec_.flush();
      *reply = take_output();
      return open;
    }

   private:
    std::string take_output() {
      std::string out;
      out.swap(output_);
      return out;
    }

    void on_request(int32_t id, http::RequestHead head, bool end_stream) override {
      MemberRequest& request = open_[id];
      request.head = std::move(head);
      if (request.header("expect") == "100-continue") {
        http::ResponseHead proceed;
        proceed.status = 100;
        codec_.submit_interim(id, proceed);
      }
      if (end_stream) finish(id);
    }
    void on_request_rejected(int32_t, uint16_t, const char*) override {}
    void on_request_data(int32_t id, const uint8_t*, size_t length) override {
      open_[id].body_bytes += length;
      codec_.consume(id, length);
    }
    void on_request_end(int32_t id) override { finish(id); }
    void on_request_trailers(int32_t id, std::vector<http::Header> trailers) override {
      open_[id].trailers = std::move(trailers);
    }
    void on_request_error(int32_t id, uint16_t, const char*) override {
      codec_.reset_stream(id, http2::ErrorCode::kCancel);
    }
    void on_stream_close(int32_t id, uint32_t) override { open_.erase(id); }
    void on_response_writable(int32_t) override {}
    void write_output(const uint8_t* data, size_t length) override {
      output_.append(reinterpret_cast<const char*>(data), length);
    }
    bool output_blocked() const override { return false; }

    void finish(int32_t id) {
      MemberRequest request = open_[id];
      member_.record(request);
      answer(id, request);
    }

    void send(int32_t id, uint16_t status, std::vector<http::Header> headers, const std::string& body,
              std::vector<http::Header> trailers = {}) {
      http::ResponseHead head;
      head.status = status;
      head.headers = std::move(headers);
      codec_.submit_response(id, head, false);
      codec_.submit_data(id, reinterpret_cast<const uint8_t*>(body.data()), body.size(), trailers.empty());
      if (!trailers.empty()) codec_.submit_trailers(id, std::move(trailers));
    }

    void answer(int32_t id, const MemberRequest& request) {
      const std::string& path = request.head.path;
      if (path == "/early-hints") {
        http::ResponseHead hints;
        hints.status = 103;
        hints.headers = {{"link", "</style.css>; rel=preload"}};
        codec_.submit_interim(id, hints);
        send(id, 200, {{"content-length", "6"}}, "hello\n");
      } else if (path == "/trailers") {
        send(id, 200, {{"content-type", "text/plain"}}, "hello\n",
             {{"x-checksum", "abc123"}, {"set-cookie", "stolen=1"}, {"grpc-status", "0"}});
      } else if (path == "/big-trailers") {
        send(id, 200, {}, "hello\n", {{"x-big", std::string(5000, 'b')}});
      } else if (path == "/upload") {
        send(id, 200, {}, "body-bytes: " + std::to_string(request.body_bytes) + "\n");
      } else {
        send(id, 200, {}, "ok\n");
      }
    }

    ScriptedH2Member& member_;
    std::string output_;
    std::map<int32_t, MemberRequest> open_;
    http2::ServerConnection codec_;
  };

  void record(MemberRequest request) {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(std::move(request));
  }

  std::mutex mutex_;
  std::vector<MemberRequest> requests_;
  PeerServer server_;  // last: its thread uses the members above
};

// ---- the setup ----

class H2MemberInterimTest : public H2cFrontTest {
 protected:
  // The engine on an h2c listener (HTTP/1.x accepted too) in front of the scripted member,
  // which it reaches over h2.
  void SetUp() override { start_front(member_.port(), {{"alpn_protocols", {"h2", "http/1.1"}}}); }

  // Everything the engine sends back on one HTTP/1.x connection for `request` (which should
  // ask for the close), as raw bytes.
  std::string raw_exchange(const std::string& request) {
    HttpConnection c(port_);
    EXPECT_TRUE(c.send(request));
    std::string got;
    EXPECT_TRUE(c.wait_closed(10000, &got)) << got;
    return got;
  }

  ScriptedH2Member member_;
};

TEST_F(H2MemberInterimTest, EarlyHintsReachH2AndHttp11ClientsButNotHttp10) {
  // h2 client: the 103 as a HEADERS frame without END_STREAM, then the final 200.
  RunResult r = nghttp({url("/early-hints")}, "nghttp.log");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_early_hints_then_200(r.output);
  EXPECT_TRUE(contains(r.output, "hello\n")) << r.output;

  // HTTP/1.1 client: a 103 status line with its Link, then the response.
  std::string got = raw_exchange("GET /early-hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n", 0), 0u)
      << got;
  EXPECT_TRUE(got.size() >= 6 && got.substr(got.size() - 6) == "hello\n") << got;

  // HTTP/1.0 client: no 1xx (RFC 9110 15.2), only the response.
  got = raw_exchange("GET /early-hints HTTP/1.0\r\nHost: x\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_FALSE(contains(got, "103")) << got;

  // The records and the response classes are the final response's.
  for (const auto& record : records(3)) {
    EXPECT_EQ(record.status, 200);
    EXPECT_EQ(record.termination, records::Termination::kNormal);
  }
  EXPECT_EQ(member_responses("1xx"), 0u);
  EXPECT_EQ(member_responses("2xx"), 3u);
}

TEST_F(H2MemberInterimTest, ResponseTrailersReachH2AndChunkedHttp11Clients) {
  // h2 client: a trailing HEADERS frame with END_STREAM after the body.
  RunResult r = nghttp({url("/trailers")}, "nghttp.log");
  ASSERT_EQ(r.status, 0) << r.output;
  size_t body = r.output.find("hello\n");
  size_t checksum = find_after(r.output, "x-checksum: abc123", body);
  size_t status = find_after(r.output, "grpc-status: 0", checksum);
  size_t frame = find_after(r.output, "recv HEADERS frame", status);
  size_t flags = find_after(r.output, "flags=0x05", frame);  // END_STREAM | END_HEADERS
  EXPECT_NE(flags, std::string::npos) << r.output;
  EXPECT_FALSE(contains(r.output, "stolen")) << "a forbidden trailer field crossed: " << r.output;

  // HTTP/1.1 client: the body is chunked, and its last chunk carries the trailer section.
  std::string got = raw_exchange("GET /trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(contains(got, "\r\nTransfer-Encoding: chunked\r\n")) << got;
  const std::string last_chunk = "\r\n0\r\nx-checksum: abc123\r\ngrpc-status: 0\r\n\r\n";
  ASSERT_GT(got.size(), last_chunk.size()) << got;
  EXPECT_EQ(got.substr(got.size() - last_chunk.size()), last_chunk) << got;
  EXPECT_FALSE(contains(got, "stolen")) << got;

  // HTTP/1.0 client: no chunks, so no trailers; the close ends the body.
  got = raw_exchange("GET /trailers HTTP/1.0\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(got.size() >= 6 && got.substr(got.size() - 6) == "hello\n") << got;
  EXPECT_FALSE(contains(got, "x-checksum")) << got;

  for (const auto& record : records(3)) {
    EXPECT_EQ(record.status, 200);
    EXPECT_EQ(record.termination, records::Termination::kNormal);
  }
}

TEST_F(H2MemberInterimTest, ResponseTrailersOverTheLimitResetTheStream) {
  RunResult r = nghttp({url("/big-trailers")}, "nghttp.log");
  EXPECT_TRUE(contains(r.output, "RST_STREAM")) << r.output;
  EXPECT_TRUE(contains(r.output, "INTERNAL_ERROR")) << r.output;
  EXPECT_FALSE(contains(r.output, "x-big")) << r.output;
  auto got = records(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].termination, records::Termination::kBadResponse);
}

// The member got exactly one trailer field, x-checksum: the forbidden ones did not cross.
template <typename MemberRequest>
void expect_only_checksum_trailer(const MemberRequest& request, const std::string& value) {
  ASSERT_EQ(request.trailers.size(), 1u) << "a forbidden trailer field crossed";
  EXPECT_EQ(request.trailers[0].name, "x-checksum");
  EXPECT_EQ(request.trailers[0].value, value);
}

TEST_F(H2MemberInterimTest, RequestTrailersFromAnH2ClientReachTheMember) {
  std::string body_path = dir_.file("upload.bin");
  write_file(body_path, std::string(100000, 'p'));
  RunResult r = nghttp({"--no-content-length", "-d", body_path, "--trailer", "x-checksum: 42",
                        "--trailer", "authorization: Basic c2VjcmV0", url("/upload")},
                       "nghttp.log");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "body-bytes: 100000")) << r.output;
  // With a content-length too: h2 carries trailers either way.
  r = nghttp({"-d", body_path, "--trailer", "x-checksum: 43", url("/upload")}, "nghttp-cl.log");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "body-bytes: 100000")) << r.output;

  auto requests = member_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body_bytes, 100000u);
  expect_only_checksum_trailer(requests[0], "42");
  EXPECT_EQ(requests[1].header("content-length"), "100000");
  ASSERT_EQ(requests[1].trailers.size(), 1u);
  EXPECT_EQ(requests[1].trailers[0].value, "43");
  for (const auto& record : records(2)) EXPECT_EQ(record.status, 200);
}

TEST_F(H2MemberInterimTest, RequestTrailersFromAChunkedHttp11ClientReachTheMember) {
  std::string got = raw_exchange(
      "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n3\r\nabc\r\n0\r\nX-Checksum: 42\r\nCookie: smuggled=1\r\n\r\n");
  EXPECT_TRUE(contains(got, "body-bytes: 8\n")) << got;
  auto requests = member_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body_bytes, 8u);
  expect_only_checksum_trailer(requests[0], "42");
  EXPECT_EQ(records(1)[0].status, 200);
}

TEST_F(H2MemberInterimTest, ExpectContinueIsForwardedAndTheMembers100Relayed) {
  // h2 client: the member's 100 lets nghttp send the body.
  expect_continue_relayed();
  if (HasFatalFailure()) return;

  // HTTP/1.1 client: the member's 100 arrives before any body byte is sent.
  HttpConnection c(port_);
  ASSERT_TRUE(c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  HttpResponse interim = c.read_response();
  ASSERT_TRUE(interim.ok) << interim.error;
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(c.send("hello"));
  HttpResponse final_response = c.read_response();
  ASSERT_TRUE(final_response.ok) << final_response.error;
  EXPECT_EQ(final_response.status, 200);
  EXPECT_EQ(final_response.body, "body-bytes: 5\n");

  auto requests = member_.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& request : requests) EXPECT_EQ(request.header("expect"), "100-continue");
  for (const auto& record : records(2)) EXPECT_EQ(record.status, 200);
  EXPECT_EQ(member_responses("1xx"), 0u);
  EXPECT_EQ(member_responses("2xx"), 2u);
}

}  // namespace
}  // namespace pharos::itest
