// Session persistence end to end (Octavia's pool session_persistence): SOURCE_IP, HTTP_COOKIE
// and APP_COOKIE over HTTP/1 and HTTP/2, SOURCE_IP on a TCP listener, a sticky member going
// down, and sticky entries surviving a config apply. Real engine, real members, round robin
// underneath so that any request not kept sticky would alternate.
#include <map>
#include <string>

#include "tests/engine/integration/harness.h"

namespace pharos::itest {
namespace {

using PersistenceTest = IntegrationTest;

std::function<void(json&)> with_persistence(json persistence) {
  return [persistence](json& config) { config["pools"][0]["session_persistence"] = persistence; };
}

// One request on a fresh connection, with extra header lines.
HttpResponse fetch(uint16_t port, const std::string& path, const std::string& extra = "",
                   const std::string& source = "") {
  HttpConnection c("127.0.0.1", port, source);
  if (!c.connected() || !c.send(get_request(path, true, extra))) return HttpResponse{};
  return c.read_response();
}

std::map<std::string, int> spread(uint16_t port, int count, const std::string& extra = "",
                                  const std::string& source = "") {
  std::map<std::string, int> seen;
  for (int i = 0; i < count; ++i) {
    HttpResponse r = fetch(port, "/", extra, source);
    EXPECT_TRUE(r.ok) << r.error;
    seen[r.ok ? r.body : "<" + r.error + ">"]++;
  }
  return seen;
}

TEST_F(PersistenceTest, HttpCookieInsertsSrvAndFollowsIt) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", with_persistence({{"type", "HTTP_COOKIE"}}));
  ASSERT_NE(s.engine, nullptr);

  HttpResponse first = fetch(s.port, "/");
  ASSERT_TRUE(first.ok) << first.error;
  const std::string member = first.body == "m1\n" ? "m1" : "m2";
  EXPECT_EQ(first.header("set-cookie"), "SRV=" + member + "; path=/");
  EXPECT_EQ(first.header("cache-control"), "private");

  // The cookie keeps the client on its member; a request already naming it gets no new cookie.
  EXPECT_EQ(spread(s.port, 6, "Cookie: theme=dark; SRV=m2\r\n"), (std::map<std::string, int>{{"m2\n", 6}}));
  EXPECT_EQ(spread(s.port, 6, "Cookie: SRV=m1\r\n"), (std::map<std::string, int>{{"m1\n", 6}}));
  HttpResponse kept = fetch(s.port, "/", "Cookie: SRV=m1\r\n");
  EXPECT_EQ(kept.header_count("set-cookie"), 0u);
  // Without a cookie (or with one naming no member) round robin goes on.
  EXPECT_EQ(spread(s.port, 4), (std::map<std::string, int>{{"m1\n", 2}, {"m2\n", 2}}));
  HttpResponse unknown = fetch(s.port, "/", "Cookie: SRV=gone\r\n");
  EXPECT_NE(unknown.header("set-cookie").find("SRV=m"), std::string::npos);

  // The member goes down: its clients move, and are told their new member.
  ASSERT_TRUE(s.engine->set_member_status("m1", "DOWN").value("ok", false));
  HttpResponse moved = fetch(s.port, "/", "Cookie: SRV=m1\r\n");
  EXPECT_EQ(moved.body, "m2\n");
  EXPECT_EQ(moved.header("set-cookie"), "SRV=m2; path=/");
}

TEST_F(PersistenceTest, SourceIpKeepsEachClientAddressOnOneMember) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", with_persistence({{"type", "SOURCE_IP"}}));
  ASSERT_NE(s.engine, nullptr);
  std::map<std::string, int> from_1 = spread(s.port, 6, "", "127.0.0.1");
  ASSERT_EQ(from_1.size(), 1u) << "127.0.0.1 was not kept on one member";
  std::map<std::string, int> from_2 = spread(s.port, 6, "", "127.0.0.2");
  ASSERT_EQ(from_2.size(), 1u) << "127.0.0.2 was not kept on one member";
  // Round robin gave the second address the other member.
  EXPECT_NE(from_1.begin()->first, from_2.begin()->first);
  const std::string sticky = from_1.begin()->first == "m1\n" ? "m1" : "m2";
  const std::string other = sticky == "m1" ? "m2" : "m1";

  // Its member down: the client moves and stays where it went, also once the member is back.
  ASSERT_TRUE(s.engine->set_member_status(sticky, "DOWN").value("ok", false));
  EXPECT_EQ(spread(s.port, 3, "", "127.0.0.1"), (std::map<std::string, int>{{other + "\n", 3}}));
  ASSERT_TRUE(s.engine->set_member_status(sticky, "UP").value("ok", false));
  EXPECT_EQ(spread(s.port, 3, "", "127.0.0.1"), (std::map<std::string, int>{{other + "\n", 3}}));

  // A config apply that changes something else keeps the entries.
  json config = s.config;
  config["version"] = 2;
  config["listeners"][0]["timeout_client_data"] = 40000;
  ASSERT_TRUE(s.engine->apply(config).value("ok", false));
  EXPECT_EQ(spread(s.port, 3, "", "127.0.0.1"), (std::map<std::string, int>{{other + "\n", 3}}));
}

TEST_F(PersistenceTest, AppCookieLearnsTheMemberFromItsSetCookie) {
  HttpSetup s = start_http_setup("ROUND_ROBIN",
                                 with_persistence({{"type", "APP_COOKIE"}, {"cookie_name", "sid"}}));
  ASSERT_NE(s.engine, nullptr);
  HttpResponse login = fetch(s.port, "/cookie/sid");
  ASSERT_TRUE(login.ok) << login.error;
  const std::string set_cookie = login.header("set-cookie");  // sid=m1-1; Path=/
  ASSERT_EQ(set_cookie.rfind("sid=", 0), 0u) << set_cookie;
  const std::string value = set_cookie.substr(4, set_cookie.find(';') - 4);
  EXPECT_EQ(login.header_count("set-cookie"), 1u);  // nothing inserted by the engine
  EXPECT_EQ(spread(s.port, 6, "Cookie: sid=" + value + "\r\n"), (std::map<std::string, int>{{login.body, 6}}));
  // Another session id learnt on the other member.
  HttpResponse second = fetch(s.port, "/cookie/sid");
  ASSERT_TRUE(second.ok);
  const std::string second_value = second.header("set-cookie").substr(4, second.header("set-cookie").find(';') - 4);
  EXPECT_NE(second.body, login.body);
  EXPECT_EQ(spread(s.port, 4, "Cookie: a=b; sid=\"" + second_value + "\"\r\n"),
            (std::map<std::string, int>{{second.body, 4}}));
  // An unknown session id is balanced as usual.
  EXPECT_EQ(spread(s.port, 4, "Cookie: sid=never-issued\r\n"), (std::map<std::string, int>{{"m1\n", 2}, {"m2\n", 2}}));
}

TEST_F(PersistenceTest, Http2StreamsFollowTheCookieToo) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& config) {
    config["listeners"][0]["h2c"] = true;
    config["pools"][0]["session_persistence"] = {{"type", "HTTP_COOKIE"}};
  });
  ASSERT_NE(s.engine, nullptr);
  const std::string url = "http://127.0.0.1:" + std::to_string(s.port) + "/";
  // Four streams on one h2 connection (nghttp: curl 7.88 cannot reuse a prior-knowledge
  // connection), the cookie split over two fields as h2 allows.
  RunResult r = run_to_completion({"/usr/bin/nghttp", "-H", "cookie: a=1", "-H", "cookie: SRV=m2", url, url + "a",
                                   url + "b", url + "c"},
                                  dir_.file("nghttp.log"), 20000);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "m2\nm2\nm2\nm2\n");
  RunResult fresh = run_to_completion({"/usr/bin/curl", "-sS", "-D", "-", "--http2-prior-knowledge", url},
                                      dir_.file("curl-h2-fresh.log"), 20000);
  ASSERT_EQ(fresh.status, 0) << fresh.output;
  EXPECT_NE(fresh.output.find("set-cookie: SRV=m"), std::string::npos) << fresh.output;
}

TEST_F(PersistenceTest, SourceIpOnTcpListener) {
  Member a = start_member("a", true), b = start_member("b", true);
  uint16_t port = free_port();
  json pool = pool_json("tcp-pool", "ROUND_ROBIN",
                        json::array({member_json("a", a.port), member_json("b", b.port)}), "TCP");
  pool["session_persistence"] = {{"type", "SOURCE_IP"}};
  EngineHandle* engine =
      start_engine(config_json(1, json::array({listener_json("tcp", port, "tcp-pool", "TCP")}), json::array({pool})));
  ASSERT_NE(engine, nullptr);
  for (int i = 0; i < 6; ++i) {
    HttpConnection c("127.0.0.1", port);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send("ping"));
    std::string got;
    c.shutdown_write();
    EXPECT_TRUE(c.wait_closed(5000, &got));
    EXPECT_EQ(got, "ping");
  }
  uint64_t to_a = engine->stat("members", "a", "total_connections");
  uint64_t to_b = engine->stat("members", "b", "total_connections");
  EXPECT_EQ(to_a + to_b, 6u);
  EXPECT_TRUE(to_a == 0 || to_b == 0) << "a " << to_a << ", b " << to_b;
}

}  // namespace
}  // namespace pharos::itest
