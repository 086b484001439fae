// The HTTP/2 client codec against the engine's own server codec: frames go back and forth in
// memory, so both sides are real nghttp2 sessions and nothing is mocked.
#include "engine/http2/client_connection.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/http2/server_connection.h"

namespace pharos::http2 {
namespace {

struct Member : ServerConnection::Handler {
  ServerConnection* codec = nullptr;
  std::string output;
  std::map<int32_t, http::RequestHead> requests;
  std::map<int32_t, std::string> bodies;
  std::map<int32_t, std::vector<http::Header>> trailers;
  std::vector<int32_t> ended;
  bool consume = true;
  void on_request(int32_t id, http::RequestHead head, bool end_stream) override {
    requests[id] = std::move(head);
    if (end_stream) ended.push_back(id);
  }
  void on_request_rejected(int32_t, uint16_t, const char*) override {}
  void on_request_data(int32_t id, const uint8_t* data, size_t length) override {
    bodies[id].append(reinterpret_cast<const char*>(data), length);
    if (consume) codec->consume(id, length);
  }
  void on_request_end(int32_t id) override { ended.push_back(id); }
  void on_request_trailers(int32_t id, std::vector<http::Header> fields) override { trailers[id] = std::move(fields); }
  void on_request_error(int32_t, uint16_t, const char*) override {}
  void on_stream_close(int32_t, uint32_t) override {}
  void on_response_writable(int32_t) override {}
  void write_output(const uint8_t* data, size_t length) override {
    output.append(reinterpret_cast<const char*>(data), length);
  }
  bool output_blocked() const override { return false; }
};

struct Proxy : ClientConnection::Handler {
  ClientConnection* codec = nullptr;
  std::string output;
  std::map<int32_t, http::ResponseHead> heads;
  std::map<int32_t, std::string> bodies;
  std::map<int32_t, StreamError> closed;
  std::vector<int32_t> writable;
  std::map<int32_t, std::vector<http::ResponseHead>> interims;
  std::map<int32_t, std::vector<http::Header>> trailers;
  std::vector<std::string> events;  // what each stream heard, in order
  int32_t goaway_last = -1;
  bool consume = true;
  void on_interim_response(int32_t id, http::ResponseHead head) override {
    events.push_back("interim " + std::to_string(head.status));
    interims[id].push_back(std::move(head));
  }
  void on_response(int32_t id, http::ResponseHead head, bool) override {
    events.push_back("response " + std::to_string(head.status));
    heads[id] = std::move(head);
  }
  void on_response_data(int32_t id, const uint8_t* data, size_t length) override {
    if (events.empty() || events.back() != "data") events.push_back("data");
    bodies[id].append(reinterpret_cast<const char*>(data), length);
    if (consume) codec->consume(id, length);
  }
  void on_response_trailers(int32_t id, std::vector<http::Header> fields) override {
    events.push_back("trailers");
    trailers[id] = std::move(fields);
  }
  void on_stream_close(int32_t id, StreamError error) override {
    events.push_back(std::string("close ") + stream_error_name(error));
    closed[id] = error;
  }
  void on_request_writable(int32_t id) override { writable.push_back(id); }
  void on_goaway(int32_t last, uint32_t) override { goaway_last = last; }
  void write_output(const uint8_t* data, size_t length) override {
    output.append(reinterpret_cast<const char*>(data), length);
  }
  bool output_blocked() const override { return false; }
};

class ClientConnectionTest : public ::testing::Test {
 protected:
  ClientConnectionTest() : server(member, limits(), 0), client(proxy, ClientSettings{}) {
    member.codec = &server;
    proxy.codec = &client;
  }
  static config::Http2Limits limits() {
    config::Http2Limits l;
    l.max_concurrent_streams = 3;
    return l;
  }
  // Moves bytes both ways until neither side has anything to say.
  void pump() {
    for (int i = 0; i < 100; ++i) {
      client.flush();
      std::string to_member;
      to_member.swap(proxy.output);
      if (!to_member.empty()) server.feed(reinterpret_cast<const uint8_t*>(to_member.data()), to_member.size(), 0);
      server.flush();
      std::string to_proxy;
      to_proxy.swap(member.output);
      if (!to_proxy.empty()) client.feed(reinterpret_cast<const uint8_t*>(to_proxy.data()), to_proxy.size());
      if (to_member.empty() && to_proxy.empty()) return;
    }
  }
  static http::RequestHead get(const std::string& path) {
    http::RequestHead head;
    head.method = "GET";
    head.scheme = "http";
    head.authority = "member.test";
    head.path = path;
    head.headers.push_back({"X-Trace", "abc"});  // mixed case goes out lower case
    return head;
  }
  void respond(int32_t id, uint16_t status, const std::string& body) {
    http::ResponseHead head;
    head.status = status;
    head.headers.push_back({"content-type", "text/plain"});
    server.submit_response(id, head, false);
    server.submit_data(id, reinterpret_cast<const uint8_t*>(body.data()), body.size(), true);
  }

  Member member;
  Proxy proxy;
  ServerConnection server;
  ClientConnection client;
};

TEST_F(ClientConnectionTest, RequestAndResponseAsVersionNeutralHeads) {
  int32_t id = client.submit_request(get("/a?b=1"), true);
  ASSERT_GT(id, 0);
  pump();
  ASSERT_EQ(member.requests.count(id), 1u);
  EXPECT_EQ(member.requests[id].method, "GET");
  EXPECT_EQ(member.requests[id].authority, "member.test");
  EXPECT_EQ(member.requests[id].path, "/a?b=1");
  ASSERT_EQ(member.requests[id].headers.size(), 1u);
  EXPECT_EQ(member.requests[id].headers[0].name, "x-trace");
  respond(id, 201, "hello");
  pump();
  EXPECT_EQ(proxy.heads[id].status, 201);
  EXPECT_EQ(proxy.bodies[id], "hello");
  ASSERT_EQ(proxy.closed.count(id), 1u);
  EXPECT_EQ(proxy.closed[id], StreamError::kNone);
  EXPECT_EQ(client.open_streams(), 0u);
}

TEST_F(ClientConnectionTest, RequestBodyAndMemberConcurrencyLimit) {
  pump();  // SETTINGS both ways: the member allows 3 streams
  EXPECT_EQ(client.max_concurrent_streams(), 3u);
  std::vector<int32_t> ids;
  while (client.can_open_stream()) {
    http::RequestHead head = get("/up");
    head.method = "POST";
    int32_t id = client.submit_request(head, false);
    ASSERT_GT(id, 0);
    ids.push_back(id);
  }
  EXPECT_EQ(ids.size(), 3u);
  std::string body(200000, 'x');  // beyond the 64 KiB initial windows: flow control both ways
  for (int32_t id : ids) {
    client.submit_data(id, reinterpret_cast<const uint8_t*>(body.data()), body.size(), true);
    EXPECT_TRUE(client.request_buffer_full(id));
  }
  pump();
  for (int32_t id : ids) {
    EXPECT_EQ(member.bodies[id].size(), body.size());
    respond(id, 200, body);
  }
  pump();
  for (int32_t id : ids) {
    EXPECT_EQ(proxy.bodies[id].size(), body.size());
    EXPECT_EQ(proxy.closed[id], StreamError::kNone);
  }
  EXPECT_EQ(proxy.writable.size(), 3u);
  EXPECT_TRUE(client.can_open_stream());
}

TEST_F(ClientConnectionTest, ResponseWindowOpensOnlyAsTheCallerConsumes) {
  proxy.consume = false;
  int32_t id = client.submit_request(get("/big"), true);
  pump();
  respond(id, 200, std::string(1 << 20, 'y'));
  pump();
  size_t first = proxy.bodies[id].size();
  EXPECT_EQ(first, ClientSettings{}.initial_window_bytes);  // stopped at the stream window
  client.consume(id, first);
  pump();
  EXPECT_GT(proxy.bodies[id].size(), first);
}

TEST_F(ClientConnectionTest, GoawayRefusesStreamsAboveTheLastId) {
  int32_t first = client.submit_request(get("/1"), true);
  pump();
  server.drain();  // GOAWAY with the last stream seen: `first`
  int32_t second = client.submit_request(get("/2"), true);  // not yet sent when GOAWAY lands
  ASSERT_GT(second, 0);
  std::string to_proxy;
  to_proxy.swap(member.output);
  client.feed(reinterpret_cast<const uint8_t*>(to_proxy.data()), to_proxy.size());
  pump();
  EXPECT_EQ(proxy.goaway_last, first);
  EXPECT_TRUE(client.goaway_received());
  EXPECT_FALSE(client.can_open_stream());
  EXPECT_EQ(client.submit_request(get("/3"), true), 0);
  ASSERT_EQ(proxy.closed.count(second), 1u);
  EXPECT_EQ(proxy.closed[second], StreamError::kRefused);
  respond(first, 200, "ok");  // the stream below the last id still finishes
  pump();
  EXPECT_EQ(proxy.closed[first], StreamError::kNone);
  EXPECT_EQ(proxy.bodies[first], "ok");
}

TEST_F(ClientConnectionTest, MemberResetAndLostConnection) {
  int32_t a = client.submit_request(get("/a"), true);
  int32_t b = client.submit_request(get("/b"), true);
  pump();
  server.reset_stream(a, ErrorCode::kInternalError);
  pump();
  EXPECT_EQ(proxy.closed[a], StreamError::kReset);
  client.connection_lost();
  EXPECT_EQ(proxy.closed[b], StreamError::kConnectionLost);
  EXPECT_TRUE(client.finished());
}

TEST_F(ClientConnectionTest, InterimHeadsAndTrailersArriveInOrder) {
  int32_t id = client.submit_request(get("/hints"), true);
  pump();
  http::ResponseHead proceed;
  proceed.status = 100;
  ASSERT_TRUE(server.submit_interim(id, proceed));
  http::ResponseHead hints;
  hints.status = 103;
  hints.headers.push_back({"link", "</style.css>; rel=preload"});
  ASSERT_TRUE(server.submit_interim(id, hints));
  http::ResponseHead head;
  head.status = 200;
  ASSERT_TRUE(server.submit_response(id, head, false));
  const std::string body = "hello";
  server.submit_data(id, reinterpret_cast<const uint8_t*>(body.data()), body.size(), false);
  ASSERT_TRUE(server.submit_trailers(id, {{"x-checksum", "abc123"}, {"grpc-status", "0"}}));
  pump();
  EXPECT_EQ(proxy.events, (std::vector<std::string>{"interim 100", "interim 103", "response 200", "data",
                                                    "trailers", "close none"}));
  ASSERT_EQ(proxy.interims[id].size(), 2u);
  ASSERT_EQ(proxy.interims[id][1].headers.size(), 1u);
  EXPECT_EQ(proxy.interims[id][1].headers[0].name, "link");
  EXPECT_EQ(proxy.interims[id][1].headers[0].value, "</style.css>; rel=preload");
  EXPECT_TRUE(proxy.heads[id].headers.empty()) << "an interim head's fields leaked into the final one";
  EXPECT_EQ(proxy.bodies[id], "hello");
  ASSERT_EQ(proxy.trailers[id].size(), 2u);
  EXPECT_EQ(proxy.trailers[id][0].name, "x-checksum");
  EXPECT_EQ(proxy.trailers[id][0].value, "abc123");
  EXPECT_EQ(proxy.trailers[id][1].name, "grpc-status");
}

TEST_F(ClientConnectionTest, TrailersWithAPseudoHeaderResetTheStream) {
  int32_t id = client.submit_request(get("/"), true);
  pump();
  http::ResponseHead head;
  head.status = 200;
  server.submit_response(id, head, false);
  server.submit_data(id, reinterpret_cast<const uint8_t*>("x"), 1, false);
  server.submit_trailers(id, {{":path", "/smuggled"}, {"x-checksum", "1"}});
  pump();
  EXPECT_EQ(proxy.closed[id], StreamError::kReset);
  EXPECT_EQ(proxy.trailers.count(id), 0u);
  EXPECT_TRUE(client.can_open_stream());  // only the stream failed
}

TEST_F(ClientConnectionTest, TrailersOverTheHeaderListLimitResetTheStream) {
  ClientSettings settings;
  settings.max_header_list_bytes = 1024;
  Proxy small;
  ClientConnection limited(small, settings);
  small.codec = &limited;
  Member peer;
  ServerConnection origin(peer, limits(), 0);
  peer.codec = &origin;
  int32_t id = limited.submit_request(get("/"), true);
  auto exchange = [&] {
    for (int i = 0; i < 100; ++i) {
      limited.flush();
      std::string up, down;
      up.swap(small.output);
      if (!up.empty()) origin.feed(reinterpret_cast<const uint8_t*>(up.data()), up.size(), 0);
      origin.flush();
      down.swap(peer.output);
      if (!down.empty()) limited.feed(reinterpret_cast<const uint8_t*>(down.data()), down.size());
      if (up.empty() && down.empty()) return;
    }
  };
  exchange();
  http::ResponseHead head;
  head.status = 200;
  origin.submit_response(id, head, false);
  origin.submit_trailers(id, {{"x-big", std::string(2000, 'b')}});
  exchange();
  EXPECT_EQ(small.closed[id], StreamError::kReset);
  EXPECT_EQ(small.trailers.count(id), 0u);
}

TEST_F(ClientConnectionTest, RequestTrailersFollowTheBody) {
  http::RequestHead head = get("/up");
  head.method = "POST";
  int32_t id = client.submit_request(head, false);
  const std::string body = "payload";
  client.submit_data(id, reinterpret_cast<const uint8_t*>(body.data()), body.size(), false);
  ASSERT_TRUE(client.submit_trailers(id, {{"X-Checksum", "42"}}));
  EXPECT_FALSE(client.submit_data(id, reinterpret_cast<const uint8_t*>("late"), 4, true));  // the body is over
  pump();
  EXPECT_EQ(member.bodies[id], "payload");
  ASSERT_EQ(member.trailers[id].size(), 1u);
  EXPECT_EQ(member.trailers[id][0].name, "x-checksum");  // lower case on the wire
  EXPECT_EQ(member.trailers[id][0].value, "42");
  ASSERT_EQ(member.ended.size(), 1u);
  respond(id, 200, "ok");
  pump();
  EXPECT_EQ(proxy.closed[id], StreamError::kNone);
}

TEST_F(ClientConnectionTest, GarbageFromTheMemberFailsTheConnection) {
  int32_t id = client.submit_request(get("/"), true);
  pump();
  const std::string garbage = "HTTP/1.1 200 OK\r\n\r\n";
  EXPECT_FALSE(client.feed(reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size()));
  EXPECT_EQ(proxy.closed[id], StreamError::kConnectionLost);
}

}  // namespace
}  // namespace pharos::http2
