// HTTP listener behaviour end to end: balancing, keep-alive, inserted headers, the strict
// parser at the edge, streamed bodies and pipelining.
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/engine/integration/harness.h"

namespace pharos::itest {
namespace {

using HttpProxyTest = IntegrationTest;

// "Name: value" lines of a /echo body.
std::multimap<std::string, std::string> echo_lines(const std::string& body) {
  std::multimap<std::string, std::string> lines;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    std::string line = body.substr(at, end - at);
    size_t colon = line.find(": ");
    if (colon != std::string::npos) lines.emplace(line.substr(0, colon), line.substr(colon + 2));
    at = end + 1;
  }
  return lines;
}

TEST_F(HttpProxyTest, RoundRobinAlternatesAndStatsCountPerMemberAndListener) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  std::vector<std::string> seen;
  for (int i = 0; i < 10; ++i) {
    HttpResponse r = http_get(s.port, "/");
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.status, 200);
    seen.push_back(r.body);
  }
  std::map<std::string, int> per_member;
  for (size_t i = 0; i < seen.size(); ++i) {
    per_member[seen[i]]++;
    if (i > 0) {
      EXPECT_NE(seen[i], seen[i - 1]) << "request " << i << " went to the same member twice";
    }
  }
  EXPECT_EQ(per_member["m1\n"], 5);
  EXPECT_EQ(per_member["m2\n"], 5);

  json stats = s.engine->stats();
  ASSERT_TRUE(stats.value("ok", false)) << stats.dump();
  for (const char* id : {"m1", "m2"}) {
    const json& m = stats["members"][id];
    EXPECT_EQ(m["responses"]["2xx"], 5) << id << ": " << m.dump();
    // Member connections opened: at least one, at most one per request (idle ones are reused).
    EXPECT_GE(m["total_connections"].get<uint64_t>(), 1u) << id << ": " << m.dump();
    EXPECT_LE(m["total_connections"].get<uint64_t>(), 5u) << id << ": " << m.dump();
    EXPECT_GT(m["bytes_in"].get<uint64_t>(), 0u) << id;
    EXPECT_GT(m["bytes_out"].get<uint64_t>(), 0u) << id;
    EXPECT_EQ(m["connect_failures"], 0) << id;
  }
  const json& l = stats["listeners"]["listener"];
  EXPECT_EQ(l["total_connections"], 10) << l.dump();
  EXPECT_GT(l["bytes_in"].get<uint64_t>(), 0u);
  EXPECT_GT(l["bytes_out"].get<uint64_t>(), 0u);
  EXPECT_EQ(l["request_errors"], 0);
}

TEST_F(HttpProxyTest, KeepAliveServesManyRequestsOverFewMemberConnections) {
  CountingMember c1("c1"), c2("c2");
  uint16_t port = free_port();
  json config = config_json(
      1, json::array({listener_json("listener", port, "pool")}),
      json::array({pool_json("pool", "ROUND_ROBIN",
                             json::array({member_json("c1", c1.port()), member_json("c2", c2.port())}))}));
  EngineHandle* engine = start_engine(config);
  ASSERT_NE(engine, nullptr);

  HttpConnection client(port);
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(client.send(get_request("/req/" + std::to_string(i))));
    HttpResponse r = client.read_response();
    ASSERT_TRUE(r.ok) << "request " << i << ": " << r.error;
    ASSERT_EQ(r.status, 200) << "request " << i;
    ASSERT_FALSE(r.closed_after) << "request " << i;
  }
  EXPECT_EQ(c1.requests() + c2.requests(), 100u);
  EXPECT_EQ(c1.requests(), 50u);
  // Member connections go back to the worker's pool between requests.
  EXPECT_LE(c1.connections() + c2.connections(), 4u)
      << "c1 saw " << c1.connections() << " connections, c2 " << c2.connections();
  EXPECT_LE(engine->stat("members", "c1", "total_connections") + engine->stat("members", "c2", "total_connections"),
            4u);
  EXPECT_EQ(engine->stat("listeners", "listener", "total_connections"), 1u);
  EXPECT_EQ(engine->stat("members", "c1", "responses.2xx") + engine->stat("members", "c2", "responses.2xx"),
            100u);
}

TEST_F(HttpProxyTest, XForwardedHeadersInsertedOnlyWhenAsked) {
  Member m = start_member("m1");
  uint16_t with_port = free_port(), without_port = free_port();
  json with = listener_json("with", with_port, "pool");
  with["insert_headers"] = {{"X-Forwarded-For", "true"}, {"X-Forwarded-Port", "true"}, {"X-Forwarded-Proto", "True"}};
  json without = listener_json("without", without_port, "pool");
  json config = config_json(1, json::array({with, without}),
                            json::array({pool_json("pool", "ROUND_ROBIN", json::array({member_json("m1", m.port)}))}));
  ASSERT_NE(start_engine(config), nullptr);
  const std::string spoofed = "X-Forwarded-Port: 1\r\nX-Forwarded-Proto: gopher\r\n";

  HttpConnection a(with_port);
  ASSERT_TRUE(a.send(get_request("/echo", true, spoofed)));
  HttpResponse r = a.read_response();
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.status, 200);
  auto lines = echo_lines(r.body);
  EXPECT_EQ(lines.count("X-Forwarded-For"), 1u) << r.body;
  EXPECT_EQ(lines.find("X-Forwarded-For")->second, "127.0.0.1") << r.body;
  ASSERT_EQ(lines.count("X-Forwarded-Port"), 1u) << "the client's X-Forwarded-Port must be replaced:\n" << r.body;
  EXPECT_EQ(lines.find("X-Forwarded-Port")->second, std::to_string(with_port));
  ASSERT_EQ(lines.count("X-Forwarded-Proto"), 1u) << r.body;
  EXPECT_EQ(lines.find("X-Forwarded-Proto")->second, "http");

  HttpConnection b(without_port);
  ASSERT_TRUE(b.send(get_request("/echo", true)));
  r = b.read_response();
  ASSERT_TRUE(r.ok) << r.error;
  lines = echo_lines(r.body);
  EXPECT_EQ(lines.count("X-Forwarded-For"), 0u) << r.body;
  EXPECT_EQ(lines.count("X-Forwarded-Port"), 0u) << r.body;
  EXPECT_EQ(lines.count("X-Forwarded-Proto"), 0u) << r.body;
}

struct BadRequest {
  const char* name;
  std::string bytes;
};

std::vector<BadRequest> bad_requests(uint32_t max_header_bytes) {
  using namespace std::string_literals;
  return {
      {"CL and TE both present",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding: xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
      {"differing Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n"},
      {"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-Spaced : v\r\n\r\n"},
      {"NUL in a header value", "GET / HTTP/1.1\r\nHost: a\r\nX-Nul: a\0b\r\n\r\n"s},
      {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nUser-Agent: t\r\n\r\n"},
      {"oversized header section",
       "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(max_header_bytes + 100, 'b') + "\r\n\r\n"},
  };
}

constexpr uint32_t kMaxHeaderBytes = 4096;

json strict_config(uint16_t port, uint16_t member_port) {
  json config = config_json(
      1, json::array({listener_json("listener", port, "pool")}),
      json::array({pool_json("pool", "ROUND_ROBIN", json::array({member_json("c1", member_port)}))}));
  config["http"] = {{"max_header_bytes", kMaxHeaderBytes}};
  return config;
}

TEST_F(HttpProxyTest, StrictParserAnswers400AndNeverReachesAMember) {
  CountingMember member("c1");
  uint16_t port = free_port();
  EngineHandle* engine = start_engine(strict_config(port, member.port()));
  ASSERT_NE(engine, nullptr);

  auto cases = bad_requests(kMaxHeaderBytes);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    HttpConnection client(port);
    ASSERT_TRUE(client.connected());
    client.send(c.bytes);  // may fail part way for the oversized head: the engine stops reading
    HttpResponse r = client.read_response();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(r.closed_after) << "the connection must close after a 400";
  }
  EXPECT_EQ(member.connections(), 0u);
  EXPECT_EQ(member.requests(), 0u);
  EXPECT_EQ(engine->stat("members", "c1", "total_connections"), 0u);
  EXPECT_EQ(engine->stat("listeners", "listener", "request_errors"), cases.size());

  // The same listener still serves a valid request.
  HttpResponse ok = http_get(port, "/");
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(member.requests(), 1u);
}

// A bad chunk size in the first chunk is found before any member is picked: a 400 to the
// client, as for every other framing error, and no member sees the request.
TEST_F(HttpProxyTest, InvalidChunkSizeAnswers400AndNeverReachesAMember) {
  CountingMember member("c1");
  uint16_t port = free_port();
  EngineHandle* engine = start_engine(strict_config(port, member.port()));
  ASSERT_NE(engine, nullptr);

  HttpConnection client(port);
  ASSERT_TRUE(client.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"));
  HttpResponse r = client.read_response();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(member.requests(), 0u);
  EXPECT_EQ(member.connections(), 0u);
  EXPECT_EQ(engine->stat("listeners", "listener", "request_errors"), 1u);
}

// A client that half-closes after its request still gets the whole response, then EOF.
TEST_F(HttpProxyTest, HalfClosedClientStillGetsItsResponse) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  HttpConnection client(s.port);
  ASSERT_TRUE(client.send(get_request("/delay/100")));
  client.shutdown_write();
  HttpResponse r = client.read_response();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == "m1\n" || r.body == "m2\n") << r.body;
  EXPECT_TRUE(client.wait_closed(3000)) << "no EOF after the response to a half-closed client";
}

// A pooled member connection whose member went away is retried once on a fresh connection,
// invisibly to the client.
TEST_F(HttpProxyTest, StalePooledMemberConnectionIsRetried) {
  Member m = start_member("first");
  uint16_t port = free_port();
  json config = config_json(1, json::array({listener_json("listener", port, "pool")}),
                            json::array({pool_json("pool", "ROUND_ROBIN", json::array({member_json("m", m.port)}))}));
  ASSERT_NE(start_engine(config), nullptr);
  HttpResponse r = http_get(port, "/");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.body, "first\n");
  // The member restarts on the same port: the engine's idle connection to it is now dead.
  m.process->kill_and_reap();
  auto restarted = std::make_unique<ChildProcess>();
  ASSERT_TRUE(restarted->spawn({backend_binary(), "--port", std::to_string(m.port), "--name", "second"},
                               dir_.file("member-second.log")));
  ChildProcess* raw = restarted.get();
  processes_.push_back(std::move(restarted));
  ASSERT_TRUE(wait_until(
      [&] {
        int fd = connect_tcp("127.0.0.1", m.port);
        if (fd >= 0) ::close(fd);
        return fd >= 0 || !raw->running();
      },
      5000));
  ASSERT_TRUE(raw->running()) << raw->log();
  for (int i = 0; i < 3; ++i) {
    r = http_get(port, "/");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "second\n");
  }
}

// Expect: 100-continue: the member's interim response reaches the client before it sends the
// body, then the final response follows on the same connection.
TEST_F(HttpProxyTest, ExpectContinuePassesTheInterimResponse) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  HttpConnection client(s.port);
  ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  HttpResponse interim = client.read_response(5000);
  ASSERT_TRUE(interim.ok) << interim.error;
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(client.send("hello"));
  HttpResponse r = client.read_response(5000);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("body-bytes: 5\n"), std::string::npos) << r.body;
}

// A request head that stops arriving gets 408 after timeout_client_data; an idle keep-alive
// connection is closed silently.
TEST_F(HttpProxyTest, ClientTimeoutGives408ForAPartialHead) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& config) {
    config["listeners"][0]["timeout_client_data"] = 300;
  });
  ASSERT_NE(s.engine, nullptr);
  HttpConnection partial(s.port);
  ASSERT_TRUE(partial.send("GET / HTTP/1.1\r\nHost: a\r\n"));
  HttpResponse r = partial.read_response(3000);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 408);
  EXPECT_TRUE(r.closed_after);

  HttpConnection idle(s.port);
  ASSERT_TRUE(idle.send(get_request("/")));
  ASSERT_TRUE(idle.read_response().ok);
  std::string got;
  EXPECT_TRUE(idle.wait_closed(3000, &got));
  EXPECT_TRUE(got.empty()) << got;
}

// The client's read timer runs through an exchange: a member slower than timeout_client_data
// still answers the client waiting for it, and the keep-alive wait for the next request is
// timed from the end of that response. Timer: 1000 ms; the response comes at 2500 ms, after
// two ignored read timeouts; the next request comes 750 ms after it (the timer, had it not
// been restarted at the response, would have closed the connection 500 ms after it).
TEST_F(HttpProxyTest, ClientWaitingForASlowMemberKeepsItsConnection) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& config) {
    config["listeners"][0]["timeout_client_data"] = 1000;
  });
  ASSERT_NE(s.engine, nullptr);
  HttpConnection client(s.port);
  ASSERT_TRUE(client.send(get_request("/delay/2500")));
  HttpResponse r = client.read_response(6000);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  usleep(750 * 1000);
  ASSERT_TRUE(client.send(get_request("/")));
  r = client.read_response(3000);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  std::string got;
  EXPECT_TRUE(client.wait_closed(3000, &got));  // then the idle keep-alive timeout
  EXPECT_TRUE(got.empty()) << got;
}

// Requests pipelined behind a slow one wait in the engine's input only up to its bound: then the
// engine stops reading the client (its socket stays full), and resumes after the response.
TEST_F(HttpProxyTest, PipelinedRequestsBehindASlowOneStopTheReading) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  HttpConnection client(s.port);
  ASSERT_TRUE(client.send(get_request("/delay/1500")));
  std::string block;
  while (block.size() < 64 * 1024) block += get_request("/");
  constexpr size_t kCap = 16 * 1024 * 1024;
  size_t written = 0;
  auto write_until_full = [&] {
    size_t before = written;
    while (written < kCap) {
      ssize_t n = ::send(client.fd(), block.data(), block.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    return written - before;
  };
  // Until a pause of 200 ms lets nothing more in: a reader would have made room by then.
  size_t progress = write_until_full();
  for (int round = 0; round < 10 && progress > 0 && written < kCap; ++round) {
    usleep(200 * 1000);
    progress = write_until_full();
  }
  EXPECT_EQ(progress, 0u) << "the engine kept reading pipelined requests: " << written << " bytes";
  EXPECT_LT(written, kCap);
  HttpResponse r = client.read_response(5000);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  r = client.read_response(5000);  // the first pipelined one: reading resumed
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
}

std::string chunked_body(size_t total, size_t piece) {
  std::string body;
  body.reserve(total + total / piece * 12 + 16);
  char size_line[32];
  for (size_t sent = 0; sent < total;) {
    size_t n = std::min(piece, total - sent);
    std::snprintf(size_line, sizeof(size_line), "%zx\r\n", n);
    body.append(size_line).append(n, 'c').append("\r\n");
    sent += n;
    piece = piece == 65536 ? 1000 : 65536;  // vary chunk sizes
  }
  body.append("0\r\n\r\n");
  return body;
}

TEST_F(HttpProxyTest, LargeBodiesStreamBothWays) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  constexpr size_t kSize = 20 * 1024 * 1024;

  {
    SCOPED_TRACE("20 MB POST with Content-Length");
    HttpConnection client(s.port);
    std::string head = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n";
    ASSERT_TRUE(client.send(head + std::string(kSize, 'p'), 15000));
    HttpResponse r = client.read_response(15000);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("body-bytes: " + std::to_string(kSize) + "\n"), std::string::npos) << r.body;
  }
  {
    SCOPED_TRACE("chunked POST");
    HttpConnection client(s.port);
    std::string head = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    ASSERT_TRUE(client.send(head + chunked_body(kSize, 65536), 15000));
    HttpResponse r = client.read_response(15000);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("body-bytes: " + std::to_string(kSize) + "\n"), std::string::npos) << r.body;
  }
  {
    SCOPED_TRACE("20 MB response with Content-Length");
    HttpConnection client(s.port);
    ASSERT_TRUE(client.send(get_request("/bytes/" + std::to_string(kSize))));
    HttpResponse r = client.read_response(15000);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200);
    ASSERT_EQ(r.body.size(), kSize);
    EXPECT_EQ(r.body.find_first_not_of('x'), std::string::npos);
  }
  {
    SCOPED_TRACE("20 MB chunked response");
    HttpConnection client(s.port);
    ASSERT_TRUE(client.send(get_request("/chunked/" + std::to_string(kSize))));
    HttpResponse r = client.read_response(15000);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.chunked);
    ASSERT_EQ(r.body.size(), kSize);
    EXPECT_EQ(r.body.find_first_not_of('y'), std::string::npos);
  }
  EXPECT_GE(s.engine->stat("listeners", "listener", "bytes_in"), 2 * kSize);
  EXPECT_GE(s.engine->stat("listeners", "listener", "bytes_out"), 2 * kSize);
}

TEST_F(HttpProxyTest, PipelinedRequestsGetResponsesInOrder) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  HttpConnection client(s.port);
  // The first response is the slow one: a proxy that answered out of order would show it.
  ASSERT_TRUE(client.send(get_request("/delay/200") + get_request("/echo") + get_request("/status/204", true)));
  HttpResponse first = client.read_response();
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.status, 200);
  EXPECT_TRUE(first.body == "m1\n" || first.body == "m2\n") << first.body;
  HttpResponse second = client.read_response();
  ASSERT_TRUE(second.ok) << second.error;
  EXPECT_EQ(second.status, 200);
  EXPECT_NE(second.body.find("body-bytes: 0"), std::string::npos) << second.body;
  HttpResponse third = client.read_response();
  ASSERT_TRUE(third.ok) << third.error;
  EXPECT_EQ(third.status, 204);
  EXPECT_TRUE(third.closed_after);
}

}  // namespace
}  // namespace pharos::itest
