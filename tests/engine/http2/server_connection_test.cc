// The HTTP/2 server codec against an in-process nghttp2 client session: frames go back and forth
// in memory, time is passed in by the test.
#include "engine/http2/server_connection.h"

#include <nghttp2/nghttp2.h>

#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pharos::http2 {
namespace {

// ---- the server side: records what the codec reports ----

struct ServerEvents : ServerConnection::Handler {
  ServerConnection* codec = nullptr;
  std::string output;
  std::map<int32_t, http::RequestHead> requests;
  std::map<int32_t, std::string> bodies;
  std::map<int32_t, bool> ended;
  std::map<int32_t, std::vector<http::Header>> trailers;
  std::map<int32_t, bool> trailers_before_end;
  std::map<int32_t, uint16_t> errors;
  std::map<int32_t, uint32_t> closed;
  std::vector<uint16_t> rejected;
  bool consume_immediately = true;
  std::function<void(int32_t)> on_request_hook;
  std::function<void(int32_t)> on_end_hook;
  std::function<void(int32_t)> on_writable_hook;
  std::function<void(int32_t, uint16_t)> on_error_hook;

  void on_request(int32_t id, http::RequestHead head, bool end_stream) override {
    requests[id] = std::move(head);
    if (end_stream) ended[id] = true;
    if (on_request_hook) on_request_hook(id);
    if (end_stream && on_end_hook) on_end_hook(id);
  }
  void on_request_rejected(int32_t, uint16_t status, const char*) override { rejected.push_back(status); }
  void on_request_data(int32_t id, const uint8_t* data, size_t length) override {
    bodies[id].append(reinterpret_cast<const char*>(data), length);
    if (consume_immediately) codec->consume(id, length);
  }
  void on_request_trailers(int32_t id, std::vector<http::Header> fields) override {
    trailers[id] = std::move(fields);
    trailers_before_end[id] = !ended[id];
  }
  void on_request_error(int32_t id, uint16_t status, const char*) override {
    errors[id] = status;
    if (on_error_hook) on_error_hook(id, status);
  }
  void on_request_end(int32_t id) override {
    ended[id] = true;
    if (on_end_hook) on_end_hook(id);
  }
  void on_stream_close(int32_t id, uint32_t error_code) override { closed[id] = error_code; }
  void on_response_writable(int32_t id) override {
    if (on_writable_hook) on_writable_hook(id);
  }
  void write_output(const uint8_t* data, size_t length) override {
    output.append(reinterpret_cast<const char*>(data), length);
  }
  bool output_blocked() const override { return false; }
};

// ---- the client side: an nghttp2 client session ----

struct ClientStream {
  std::map<std::string, std::string> headers;
  std::vector<std::string> statuses;           // :status of every response HEADERS, 1xx included
  std::map<std::string, std::string> trailers;  // fields of a HEADERS block after the final one
  bool block_has_status = false;
  std::string body;
  bool closed = false;
  uint32_t error_code = 0;
  bool reset_by_server = false;
};

struct Client {
  nghttp2_session* session = nullptr;
  std::map<int32_t, ClientStream> streams;
  bool got_goaway = false;
  uint32_t goaway_error = 0;
  int32_t goaway_last_stream = -1;
  std::map<int32_t, std::string> uploads;  // request bodies by stream
  std::map<int32_t, size_t> upload_offsets;
  std::map<int32_t, std::vector<std::pair<std::string, std::string>>> upload_trailers;

  Client() {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
               const uint8_t* value, size_t valuelen, uint8_t, void* user) {
          auto* self = static_cast<Client*>(user);
          auto& s = self->streams[frame->hd.stream_id];
          std::string n(reinterpret_cast<const char*>(name), namelen);
          std::string v(reinterpret_cast<const char*>(value), valuelen);
          if (n == ":status") {
            s.statuses.push_back(v);
            s.block_has_status = true;
          } else if (!s.block_has_status && !s.statuses.empty() && s.statuses.back()[0] != '1') {
            s.trailers[n] = v;
            return 0;
          }
          s.headers[n] = v;
          return 0;
        });
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* frame, void* user) {
          static_cast<Client*>(user)->streams[frame->hd.stream_id].block_has_status = false;
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
          static_cast<Client*>(user)->streams[id].body.append(reinterpret_cast<const char*>(data), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
          auto& s = static_cast<Client*>(user)->streams[id];
          s.closed = true;
          s.error_code = error_code;
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* frame, void* user) {
          auto* self = static_cast<Client*>(user);
          if (frame->hd.type == NGHTTP2_GOAWAY) {
            self->got_goaway = true;
            self->goaway_error = frame->goaway.error_code;
            self->goaway_last_stream = frame->goaway.last_stream_id;
          } else if (frame->hd.type == NGHTTP2_RST_STREAM) {
            self->streams[frame->hd.stream_id].reset_by_server = true;
          }
          return 0;
        });
    nghttp2_session_client_new(&session, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(session); }

  int32_t request(const std::string& method, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> extra = {},
                  const std::string* body = nullptr) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {":method", method}, {":scheme", "http"}, {":authority", "example.test"}, {":path", path}};
    for (auto& f : extra) fields.push_back(f);
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()), n.size(),
                     v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    provider.read_callback = [](nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                                nghttp2_data_source*, void* user) -> ssize_t {
      auto* self = static_cast<Client*>(user);
      const std::string& data = self->uploads[id];
      size_t& offset = self->upload_offsets[id];
      size_t n = std::min(length, data.size() - offset);
      std::memcpy(buf, data.data() + offset, n);
      offset += n;
      if (offset == data.size()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        auto it = self->upload_trailers.find(id);
        if (it != self->upload_trailers.end()) {
          // The body ends with a trailer section instead of END_STREAM on the last DATA.
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
          std::vector<nghttp2_nv> tnva;
          for (auto& [tn, tv] : it->second) {
            tnva.push_back({reinterpret_cast<uint8_t*>(tn.data()), reinterpret_cast<uint8_t*>(tv.data()),
                            tn.size(), tv.size(), NGHTTP2_NV_FLAG_NONE});
          }
          nghttp2_submit_trailer(self->session, id, tnva.data(), tnva.size());
        }
      }
      return static_cast<ssize_t>(n);
    };
    int32_t id = nghttp2_submit_request(session, nullptr, nva.data(), nva.size(), body ? &provider : nullptr, nullptr);
    if (body) uploads[id] = *body;
    return id;
  }

  // A request whose body ends with a trailer section.
  int32_t request_with_trailers(const std::string& path, const std::string& body,
                                std::vector<std::pair<std::string, std::string>> trailers) {
    int32_t id = request("POST", path, {}, &body);
    upload_trailers[id] = std::move(trailers);
    return id;
  }
};

class Http2CodecTest : public ::testing::Test {
 protected:
  void make_server(const config::Http2Limits& limits = {}) {
    server_ = std::make_unique<ServerConnection>(events_, limits, now_ms_);
    events_.codec = server_.get();
  }

  // Moves bytes both ways until neither side has anything to say.
  void pump() {
    for (int round = 0; round < 100000; ++round) {
      bool progress = false;
      std::string to_server;
      const uint8_t* data;
      ssize_t n;
      while ((n = nghttp2_session_mem_send(client_.session, &data)) > 0) {
        to_server.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      }
      if (!to_server.empty()) {
        server_->feed(reinterpret_cast<const uint8_t*>(to_server.data()), to_server.size(), now_ms_);
        progress = true;
      }
      if (!events_.output.empty()) {
        std::string from_server;
        from_server.swap(events_.output);
        nghttp2_session_mem_recv(client_.session, reinterpret_cast<const uint8_t*>(from_server.data()),
                                 from_server.size());
        progress = true;
      }
      if (!progress) return;
    }
    FAIL() << "pump did not settle";
  }

  void respond(int32_t id, uint16_t status, const std::string& body) {
    http::ResponseHead head;
    head.status = status;
    head.headers.push_back({"content-length", std::to_string(body.size())});
    server_->submit_response(id, head, body.empty());
    if (!body.empty()) {
      server_->submit_data(id, reinterpret_cast<const uint8_t*>(body.data()), body.size(), true);
    }
  }

  uint64_t now_ms_ = 1000000;
  ServerEvents events_;
  Client client_;
  std::unique_ptr<ServerConnection> server_;
};

TEST_F(Http2CodecTest, RequestBecomesNeutralHeadAndResponseComesBack) {
  make_server();
  events_.on_end_hook = [&](int32_t id) { respond(id, 200, "hello\n"); };
  int32_t id = client_.request("GET", "/a?b=c", {{"user-agent", "t"}, {"cookie", "a=1"}, {"cookie", "b=2"}});
  pump();
  ASSERT_EQ(events_.requests.count(id), 1u);
  const http::RequestHead& head = events_.requests[id];
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.scheme, "http");
  EXPECT_EQ(head.authority, "example.test");
  EXPECT_EQ(head.path, "/a?b=c");
  ASSERT_EQ(head.headers.size(), 3u);
  EXPECT_EQ(head.headers[0].name, "user-agent");
  EXPECT_EQ(head.content_length, -1);
  auto& s = client_.streams[id];
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.error_code, 0u);
  EXPECT_EQ(s.headers[":status"], "200");
  EXPECT_EQ(s.body, "hello\n");
  EXPECT_EQ(events_.closed[id], 0u);
  EXPECT_FALSE(server_->finished());
}

TEST_F(Http2CodecTest, LargeBodiesBothWaysFollowFlowControl) {
  make_server();
  const std::string upload(1 << 20, 'u');
  std::string download;
  for (int i = 0; i < (1 << 20); ++i) download.push_back(static_cast<char>('a' + i % 26));
  size_t sent = 0;
  int32_t id = 0;
  // Response body submitted in pieces, never more than the codec's buffer wants.
  auto produce = [&](int32_t sid) {
    while (sent < download.size() && !server_->response_buffer_full(sid)) {
      size_t n = std::min<size_t>(50000, download.size() - sent);
      server_->submit_data(sid, reinterpret_cast<const uint8_t*>(download.data() + sent), n,
                           sent + n == download.size());
      sent += n;
    }
  };
  events_.on_end_hook = [&](int32_t sid) {
    http::ResponseHead head;
    head.status = 200;
    server_->submit_response(sid, head, false);
    produce(sid);
  };
  events_.on_writable_hook = produce;
  id = client_.request("POST", "/upload", {{"content-length", std::to_string(upload.size())}}, &upload);
  pump();
  EXPECT_EQ(events_.requests[id].content_length, 1 << 20);
  EXPECT_EQ(events_.bodies[id].size(), upload.size());
  EXPECT_TRUE(events_.bodies[id] == upload);
  auto& s = client_.streams[id];
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.body.size(), download.size());
  EXPECT_TRUE(s.body == download);
}

TEST_F(Http2CodecTest, RequestBodyStopsAtTheWindowUntilConsumed) {
  config::Http2Limits limits;
  limits.initial_window_bytes = 65535;
  make_server(limits);
  events_.consume_immediately = false;
  const std::string upload(300000, 'u');
  int32_t id = client_.request("POST", "/upload", {}, &upload);
  pump();
  // Nothing consumed: exactly one stream window has arrived.
  EXPECT_EQ(events_.bodies[id].size(), 65535u);
  server_->consume(id, events_.bodies[id].size());
  events_.consume_immediately = true;
  pump();
  EXPECT_EQ(events_.bodies[id].size(), upload.size());
  EXPECT_TRUE(events_.ended[id]);
}

TEST_F(Http2CodecTest, StreamsBeyondMaxConcurrentAreRefused) {
  config::Http2Limits limits;
  limits.max_concurrent_streams = 2;
  make_server(limits);
  // Sent before the client has seen the server's SETTINGS, so the client does not hold them back.
  std::vector<int32_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(client_.request("GET", "/"));
  pump();
  EXPECT_EQ(events_.requests.size(), 2u);
  int refused = 0;
  for (int32_t id : ids) {
    if (client_.streams[id].closed && client_.streams[id].error_code == NGHTTP2_REFUSED_STREAM) ++refused;
  }
  EXPECT_EQ(refused, 3);
  EXPECT_FALSE(client_.got_goaway);
  // The two accepted ones are served normally.
  for (auto& [id, head] : events_.requests) respond(id, 200, "ok");
  pump();
  for (auto& [id, head] : events_.requests) EXPECT_EQ(client_.streams[id].body, "ok");
}

TEST_F(Http2CodecTest, HeaderListTooLargeGets431) {
  config::Http2Limits limits;
  limits.max_header_list_bytes = 1024;
  make_server(limits);
  int32_t big = client_.request("GET", "/", {{"x-big", std::string(2000, 'b')}});
  pump();
  EXPECT_EQ(events_.requests.count(big), 0u);
  ASSERT_EQ(events_.rejected.size(), 1u);
  EXPECT_EQ(events_.rejected[0], 431);
  EXPECT_EQ(client_.streams[big].headers[":status"], "431");
  // The connection (and its HPACK state) is fine afterwards.
  events_.on_end_hook = [&](int32_t id) { respond(id, 200, "fine"); };
  int32_t next = client_.request("GET", "/next");
  pump();
  EXPECT_EQ(client_.streams[next].body, "fine");
}

TEST_F(Http2CodecTest, PathsThatCannotBeAnHttp1TargetAreRefused) {
  make_server();
  std::vector<int32_t> ids = {client_.request("GET", "/a b"), client_.request("GET", "relative"),
                              client_.request("GET", "*"), client_.request("GET", "/\x7f")};
  pump();
  EXPECT_TRUE(events_.requests.empty());
  for (int32_t id : ids) {
    const auto& s = client_.streams[id];
    // Refused by nghttp2 itself (RST_STREAM) or by the codec (400).
    EXPECT_TRUE(s.reset_by_server || s.headers.at(":status") == "400") << id;
  }
}

TEST_F(Http2CodecTest, RapidResetGetsGoawayEnhanceYourCalm) {
  config::Http2Limits limits;
  limits.max_resets_per_second = 20;  // burst of 200
  make_server(limits);
  pump();
  int cycles = 0;
  for (; cycles < 1000 && !client_.got_goaway; ++cycles) {
    int32_t id = client_.request("GET", "/");
    pump();  // the client library drops a request reset before its HEADERS left
    nghttp2_submit_rst_stream(client_.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    pump();
  }
  EXPECT_TRUE(client_.got_goaway);
  EXPECT_EQ(client_.goaway_error, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(server_->error(), ConnectionError::kRapidReset);
  EXPECT_GE(cycles, 200);
  EXPECT_LE(cycles, 205);
  EXPECT_TRUE(server_->finished());
}

TEST_F(Http2CodecTest, ResetsWithinTheRateAreFine) {
  config::Http2Limits limits;
  limits.max_resets_per_second = 20;
  make_server(limits);
  pump();
  for (int i = 0; i < 600; ++i) {  // 600 resets over 60 s: 10 per second
    int32_t id = client_.request("GET", "/");
    pump();
    nghttp2_submit_rst_stream(client_.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    pump();
    now_ms_ += 100;
  }
  EXPECT_FALSE(client_.got_goaway);
  EXPECT_EQ(server_->error(), ConnectionError::kNone);
}

TEST_F(Http2CodecTest, PingFloodGetsGoaway) {
  config::Http2Limits limits;
  limits.max_control_frames_per_second = 50;  // burst of 500, below nghttp2's own ack limit
  make_server(limits);
  pump();
  for (int i = 0; i < 800; ++i) nghttp2_submit_ping(client_.session, NGHTTP2_FLAG_NONE, nullptr);
  pump();
  EXPECT_TRUE(client_.got_goaway);
  EXPECT_EQ(client_.goaway_error, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(server_->error(), ConnectionError::kControlFlood);
  EXPECT_TRUE(server_->finished());
}

TEST_F(Http2CodecTest, SettingsFloodGetsGoaway) {
  config::Http2Limits limits;
  limits.max_control_frames_per_second = 50;
  make_server(limits);
  pump();
  for (int i = 0; i < 800; ++i) nghttp2_submit_settings(client_.session, NGHTTP2_FLAG_NONE, nullptr, 0);
  pump();
  EXPECT_TRUE(client_.got_goaway);
  EXPECT_EQ(server_->error(), ConnectionError::kControlFlood);
}

// Frames of the server's output: (type, flags, stream, payload).
struct RawFrame {
  uint8_t type;
  uint8_t flags;
  uint32_t stream;
  std::string payload;
};
std::vector<RawFrame> split_frames(const std::string& bytes) {
  std::vector<RawFrame> frames;
  size_t at = 0;
  while (at + 9 <= bytes.size()) {
    auto b = [&](size_t i) { return static_cast<uint8_t>(bytes[at + i]); };
    size_t length = (size_t(b(0)) << 16) | (size_t(b(1)) << 8) | b(2);
    RawFrame f{b(3), b(4), ((uint32_t(b(5)) & 0x7f) << 24) | (uint32_t(b(6)) << 16) | (uint32_t(b(7)) << 8) | b(8),
               bytes.substr(at + 9, length)};
    frames.push_back(f);
    at += 9 + length;
  }
  return frames;
}

uint32_t goaway_error(const std::vector<RawFrame>& frames, bool* found) {
  for (const auto& f : frames) {
    if (f.type == 0x7 && f.payload.size() >= 8) {
      *found = true;
      auto p = [&](size_t i) { return uint32_t(static_cast<uint8_t>(f.payload[i])); };
      return (p(4) << 24) | (p(5) << 16) | (p(6) << 8) | p(7);
    }
  }
  *found = false;
  return 0;
}

TEST_F(Http2CodecTest, StalledHeaderBlockTimesOut) {
  config::Http2Limits limits;
  limits.header_timeout_ms = 500;
  make_server(limits);
  std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  bytes += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);  // SETTINGS
  // HEADERS on stream 1 without END_HEADERS: :method GET, :path /, :scheme http (static table).
  bytes += std::string("\x00\x00\x03\x01\x00\x00\x00\x00\x01\x82\x84\x86", 12);
  ASSERT_TRUE(server_->feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), now_ms_));
  EXPECT_EQ(server_->next_deadline_ms(), now_ms_ + 500);
  server_->on_timer(now_ms_ + 499);
  EXPECT_EQ(server_->error(), ConnectionError::kNone);
  server_->on_timer(now_ms_ + 500);
  EXPECT_EQ(server_->error(), ConnectionError::kHeaderTimeout);
  bool found = false;
  EXPECT_EQ(goaway_error(split_frames(events_.output), &found), uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_TRUE(found);
  EXPECT_TRUE(server_->finished());
}

// The header timeout follows the open header block: a block completed by CONTINUATION leaves no
// deadline while its stream waits for its response, and the next block gets its own.
TEST_F(Http2CodecTest, HeaderDeadlineFollowsTheOpenHeaderBlock) {
  config::Http2Limits limits;
  limits.header_timeout_ms = 500;
  make_server(limits);
  auto feed = [&](const std::string& bytes, uint64_t now_ms) {
    return server_->feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), now_ms);
  };
  std::string start = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  start += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);  // SETTINGS
  // HEADERS on stream 1, END_STREAM without END_HEADERS: :method GET, :path /, :scheme http.
  start += std::string("\x00\x00\x03\x01\x01\x00\x00\x00\x01\x82\x84\x86", 12);
  ASSERT_TRUE(feed(start, now_ms_));
  EXPECT_EQ(server_->next_deadline_ms(), now_ms_ + 500);
  // CONTINUATION with END_HEADERS: :authority localhost (literal, static name index 1).
  ASSERT_TRUE(feed(std::string("\x00\x00\x0b\x09\x04\x00\x00\x00\x01\x01\x09localhost", 20), now_ms_ + 50));
  EXPECT_EQ(events_.requests.count(1), 1u);
  EXPECT_EQ(server_->next_deadline_ms(), 0u) << "a completed block left a deadline";
  // Stream 3's block opens later and stalls; stream 1 is still open, awaiting its response.
  ASSERT_TRUE(feed(std::string("\x00\x00\x03\x01\x01\x00\x00\x00\x03\x82\x84\x86", 12), now_ms_ + 100));
  EXPECT_EQ(server_->next_deadline_ms(), now_ms_ + 600);
  server_->on_timer(now_ms_ + 599);
  EXPECT_EQ(server_->error(), ConnectionError::kNone);
  server_->on_timer(now_ms_ + 600);
  EXPECT_EQ(server_->error(), ConnectionError::kHeaderTimeout);
}

TEST_F(Http2CodecTest, DrainSendsGracefulGoawayAndFinishesStreamsInFlight) {
  make_server();
  int32_t id = client_.request("GET", "/slow");
  pump();
  ASSERT_EQ(events_.requests.count(id), 1u);
  server_->drain();
  pump();
  EXPECT_TRUE(client_.got_goaway);
  EXPECT_EQ(client_.goaway_error, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(client_.goaway_last_stream, id);
  EXPECT_FALSE(server_->finished());  // the stream in flight is still owed its response
  respond(id, 200, "late");
  pump();
  EXPECT_EQ(client_.streams[id].body, "late");
  EXPECT_EQ(client_.streams[id].error_code, 0u);
  EXPECT_TRUE(server_->finished());
}

TEST_F(Http2CodecTest, IdleTimeoutSendsGoaway) {
  make_server();
  pump();
  server_->idle_timeout();
  pump();
  EXPECT_TRUE(client_.got_goaway);
  EXPECT_EQ(client_.goaway_error, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_TRUE(server_->finished());
}

TEST_F(Http2CodecTest, GarbageInsteadOfPrefaceEndsTheConnection) {
  make_server();
  std::string bytes = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_FALSE(server_->feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), now_ms_));
  EXPECT_EQ(server_->error(), ConnectionError::kProtocol);
}

TEST_F(Http2CodecTest, ServerResetClosesTheStream) {
  make_server();
  int32_t id = client_.request("GET", "/");
  pump();
  server_->reset_stream(id, ErrorCode::kInternalError);
  pump();
  EXPECT_TRUE(client_.streams[id].closed);
  EXPECT_EQ(client_.streams[id].error_code, uint32_t(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(events_.closed[id], uint32_t(NGHTTP2_INTERNAL_ERROR));
}

TEST_F(Http2CodecTest, InterimResponsesThenFinalResponseWithTrailers) {
  make_server();
  int32_t id = 0;
  events_.on_end_hook = [&](int32_t sid) {
    id = sid;
    http::ResponseHead early;
    early.status = 103;
    early.headers.push_back({"link", "</style.css>; rel=preload"});
    EXPECT_TRUE(server_->submit_interim(sid, early));
    http::ResponseHead proceed;
    proceed.status = 100;
    EXPECT_TRUE(server_->submit_interim(sid, proceed));
    http::ResponseHead not_interim;
    not_interim.status = 101;  // a protocol switch has no h2 form
    EXPECT_FALSE(server_->submit_interim(sid, not_interim));
    not_interim.status = 200;
    EXPECT_FALSE(server_->submit_interim(sid, not_interim));
    http::ResponseHead head;
    head.status = 200;
    EXPECT_TRUE(server_->submit_response(sid, head, false));
    EXPECT_FALSE(server_->submit_interim(sid, early));  // too late: the final head is out
    server_->submit_data(sid, reinterpret_cast<const uint8_t*>("body"), 4, false);
    EXPECT_TRUE(server_->submit_trailers(sid, {{"grpc-status", "0"}, {"x-checksum", "abc"}}));
    EXPECT_FALSE(server_->submit_data(sid, reinterpret_cast<const uint8_t*>("x"), 1, true));
  };
  client_.request("GET", "/");
  pump();
  auto& s = client_.streams[id];
  EXPECT_EQ(s.statuses, (std::vector<std::string>{"103", "100", "200"}));
  EXPECT_EQ(s.headers["link"], "</style.css>; rel=preload");
  EXPECT_EQ(s.body, "body");
  EXPECT_EQ(s.trailers["grpc-status"], "0");
  EXPECT_EQ(s.trailers["x-checksum"], "abc");
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.error_code, 0u);
  EXPECT_FALSE(s.reset_by_server);
  EXPECT_EQ(events_.closed[id], 0u);
}

TEST_F(Http2CodecTest, TrailersEndABodyThatIsWaitingForMore) {
  make_server();
  int32_t id = client_.request("GET", "/");
  pump();
  http::ResponseHead head;
  head.status = 200;
  server_->submit_response(id, head, false);
  server_->submit_data(id, reinterpret_cast<const uint8_t*>("part"), 4, false);
  pump();  // the data provider has run dry and deferred
  EXPECT_FALSE(client_.streams[id].closed);
  server_->submit_trailers(id, {{"x-done", "yes"}});
  pump();
  auto& s = client_.streams[id];
  EXPECT_EQ(s.body, "part");
  EXPECT_EQ(s.trailers["x-done"], "yes");
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.error_code, 0u);
}

TEST_F(Http2CodecTest, EmptyTrailersJustEndTheBody) {
  make_server();
  events_.on_end_hook = [&](int32_t sid) {
    http::ResponseHead head;
    head.status = 200;
    server_->submit_response(sid, head, false);
    server_->submit_data(sid, reinterpret_cast<const uint8_t*>("all"), 3, false);
    server_->submit_trailers(sid, {});
  };
  int32_t id = client_.request("GET", "/");
  pump();
  EXPECT_EQ(client_.streams[id].body, "all");
  EXPECT_TRUE(client_.streams[id].trailers.empty());
  EXPECT_TRUE(client_.streams[id].closed);
}

TEST_F(Http2CodecTest, RequestTrailersComeBeforeTheEnd) {
  make_server();
  events_.on_end_hook = [&](int32_t sid) { respond(sid, 200, "ok"); };
  int32_t id = client_.request_with_trailers("/upload", std::string(100000, 'b'),
                                             {{"x-checksum", "1234"}, {"grpc-timeout", "1S"}});
  pump();
  EXPECT_EQ(events_.bodies[id].size(), 100000u);
  ASSERT_EQ(events_.trailers[id].size(), 2u);
  EXPECT_EQ(events_.trailers[id][0].name, "x-checksum");
  EXPECT_EQ(events_.trailers[id][0].value, "1234");
  EXPECT_EQ(events_.trailers[id][1].name, "grpc-timeout");
  EXPECT_TRUE(events_.trailers_before_end[id]);
  EXPECT_TRUE(events_.ended[id]);
  EXPECT_EQ(client_.streams[id].body, "ok");
  EXPECT_EQ(client_.streams[id].error_code, 0u);
}

TEST_F(Http2CodecTest, TrailersOverTheHeaderListLimitAreAnError) {
  config::Http2Limits limits;
  limits.max_header_list_bytes = 1024;
  make_server(limits);
  events_.on_error_hook = [&](int32_t sid, uint16_t status) {
    server_->submit_local_response(sid, status, "too large\n");
  };
  int32_t id = client_.request_with_trailers("/upload", "body", {{"x-big", std::string(2000, 't')}});
  pump();
  EXPECT_EQ(events_.errors[id], 431);
  EXPECT_FALSE(events_.ended[id]);
  EXPECT_TRUE(events_.trailers[id].empty());
  EXPECT_EQ(client_.streams[id].statuses, (std::vector<std::string>{"431"}));
  // The connection (and its HPACK state) is fine afterwards.
  events_.on_end_hook = [&](int32_t sid) { respond(sid, 200, "fine"); };
  int32_t next = client_.request("GET", "/next");
  pump();
  EXPECT_EQ(client_.streams[next].body, "fine");
}

TEST_F(Http2CodecTest, ResponseBeforeTheWholeRequestIsFollowedByResetNoError) {
  make_server();
  events_.consume_immediately = false;  // the client is held at its first window
  events_.on_request_hook = [&](int32_t sid) { respond(sid, 413, "no\n"); };
  const std::string upload(300000, 'u');
  int32_t id = client_.request("POST", "/upload", {{"content-length", std::to_string(upload.size())}}, &upload);
  pump();
  auto& s = client_.streams[id];
  EXPECT_EQ(s.statuses, (std::vector<std::string>{"413"}));
  EXPECT_EQ(s.body, "no\n");
  EXPECT_TRUE(s.closed);
  EXPECT_TRUE(s.reset_by_server);
  EXPECT_EQ(s.error_code, uint32_t(NGHTTP2_NO_ERROR));
  EXPECT_EQ(events_.closed[id], uint32_t(NGHTTP2_NO_ERROR));
  EXPECT_LT(events_.bodies[id].size(), upload.size());
  EXPECT_EQ(server_->error(), ConnectionError::kNone);
}

TEST(TokenBucketTest, BurstOfTenSecondsThenTheRate) {
  TokenBucket bucket(5, 0);
  int taken = 0;
  while (bucket.take(0)) ++taken;
  EXPECT_EQ(taken, 50);
  EXPECT_FALSE(bucket.take(100));
  EXPECT_TRUE(bucket.take(200));  // 5/s: one token per 200 ms
  EXPECT_FALSE(bucket.take(200));
}

}  // namespace
}  // namespace pharos::http2
