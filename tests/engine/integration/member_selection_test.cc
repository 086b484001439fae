// Which member serves a request: unavailable members, run-time status, retries, backup,
// weight 0 and admin_state_up, and the LEAST_CONNECTIONS and SOURCE_IP algorithms.
#include <chrono>
#include <map>
#include <set>
#include <string>

#include "tests/engine/integration/harness.h"

namespace pharos::itest {
namespace {

using MemberSelectionTest = IntegrationTest;

// Member name (the body of "/") for `count` fresh-connection requests, counted.
std::map<std::string, int> spread(uint16_t port, int count, int expected_status = 200) {
  std::map<std::string, int> seen;
  for (int i = 0; i < count; ++i) {
    HttpResponse r = http_get(port, "/");
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, expected_status) << r.body;
    seen[r.ok ? r.body : "<" + r.error + ">"]++;
  }
  return seen;
}

TEST_F(MemberSelectionTest, NoMemberAcceptingGives5xxWithTextBody) {
  uint16_t port = free_port();
  // Both members' ports have nothing listening.
  json config = config_json(
      1, json::array({listener_json("listener", port, "pool")}),
      json::array({pool_json("pool", "ROUND_ROBIN",
                             json::array({member_json("d1", free_port()), member_json("d2", free_port())}))}));
  EngineHandle* engine = start_engine(config);
  ASSERT_NE(engine, nullptr);
  HttpResponse r = http_get(port, "/");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.status == 502 || r.status == 503) << r.status;
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_NE(r.body.find("member"), std::string::npos) << r.body;
  EXPECT_TRUE(r.closed_after);
  EXPECT_GT(engine->stat("members", "d1", "connect_failures") + engine->stat("members", "d2", "connect_failures"),
            0u);
}

TEST_F(MemberSelectionTest, RunTimeMemberStatusSteersTraffic) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);

  // All members DOWN: 503 with a text body.
  ASSERT_TRUE(s.engine->set_member_status("m1", "DOWN").value("ok", false));
  ASSERT_TRUE(s.engine->set_member_status("m2", "DOWN").value("ok", false));
  json status = s.engine->call({{"command", "get_member_status"}});
  EXPECT_EQ(status["members"]["m1"], "DOWN") << status.dump();
  EXPECT_EQ(status["members"]["m2"], "DOWN") << status.dump();
  HttpResponse r = http_get(s.port, "/");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_FALSE(r.body.empty());

  // One member DOWN: everything goes to the other one.
  ASSERT_TRUE(s.engine->set_member_status("m2", "UP").value("ok", false));
  auto seen = spread(s.port, 6);
  EXPECT_EQ(seen, (std::map<std::string, int>{{"m2\n", 6}}));

  // Back UP: shared again.
  ASSERT_TRUE(s.engine->set_member_status("m1", "UP").value("ok", false));
  seen = spread(s.port, 6);
  EXPECT_EQ(seen, (std::map<std::string, int>{{"m1\n", 3}, {"m2\n", 3}}));

  // Unknown member: an error, nothing changes.
  json unknown = s.engine->set_member_status("nope", "DOWN");
  EXPECT_FALSE(unknown.value("ok", true)) << unknown.dump();
}

TEST_F(MemberSelectionTest, SlowMemberGives504AfterTimeoutMemberData) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& config) {
    config["listeners"][0]["timeout_member_data"] = 500;
  });
  ASSERT_NE(s.engine, nullptr);
  auto started = Clock::now();
  HttpResponse r = http_get(s.port, "/delay/3000");
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 504);
  EXPECT_FALSE(r.body.empty());
  EXPECT_GE(elapsed, 450);
  EXPECT_LT(elapsed, 2500);
}

TEST_F(MemberSelectionTest, ConnectFailureRetriesAnotherMember) {
  Member alive = start_member("alive");
  uint16_t port = free_port();
  json pool = pool_json("pool", "ROUND_ROBIN",
                        json::array({member_json("dead", free_port()), member_json("alive", alive.port)}));
  pool["connect_retries"] = 3;
  json config = config_json(1, json::array({listener_json("listener", port, "pool")}), json::array({pool}));
  EngineHandle* engine = start_engine(config);
  ASSERT_NE(engine, nullptr);
  auto seen = spread(port, 10);
  EXPECT_EQ(seen, (std::map<std::string, int>{{"alive\n", 10}}));
  EXPECT_GT(engine->stat("members", "dead", "connect_failures"), 0u);
  EXPECT_EQ(engine->stat("members", "alive", "responses.2xx"), 10u);
}

TEST_F(MemberSelectionTest, BackupOnlyWhenPrimariesDownAndWeightZeroOrAdminDownNeverUsed) {
  Member p1 = start_member("p1"), p2 = start_member("p2"), bk = start_member("bk");
  Member w0 = start_member("w0"), off = start_member("off");
  uint16_t port = free_port();
  json backup = member_json("bk", bk.port);
  backup["backup"] = true;
  json zero = member_json("w0", w0.port);
  zero["weight"] = 0;
  json admin_down = member_json("off", off.port);
  admin_down["admin_state_up"] = false;
  json config = config_json(
      1, json::array({listener_json("listener", port, "pool")}),
      json::array({pool_json("pool", "ROUND_ROBIN",
                             json::array({member_json("p1", p1.port), zero, backup, admin_down,
                                          member_json("p2", p2.port)}))}));
  EngineHandle* engine = start_engine(config);
  ASSERT_NE(engine, nullptr);

  EXPECT_EQ(spread(port, 8), (std::map<std::string, int>{{"p1\n", 4}, {"p2\n", 4}}));
  ASSERT_TRUE(engine->set_member_status("p1", "DOWN").value("ok", false));
  EXPECT_EQ(spread(port, 4), (std::map<std::string, int>{{"p2\n", 4}}));
  ASSERT_TRUE(engine->set_member_status("p2", "DOWN").value("ok", false));
  EXPECT_EQ(spread(port, 6), (std::map<std::string, int>{{"bk\n", 6}}));
  ASSERT_TRUE(engine->set_member_status("p2", "UP").value("ok", false));
  EXPECT_EQ(spread(port, 4), (std::map<std::string, int>{{"p2\n", 4}}));
  // With every usable member DOWN, weight 0 and admin-down members still take nothing.
  ASSERT_TRUE(engine->set_member_status("p2", "DOWN").value("ok", false));
  ASSERT_TRUE(engine->set_member_status("bk", "DOWN").value("ok", false));
  HttpResponse r = http_get(port, "/");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 503) << r.body;

  EXPECT_EQ(engine->stat("members", "w0", "total_connections"), 0u);
  EXPECT_EQ(engine->stat("members", "off", "total_connections"), 0u);
}

TEST_F(MemberSelectionTest, LeastConnectionsAvoidsTheBusyMember) {
  HttpSetup s = start_http_setup("LEAST_CONNECTIONS");
  ASSERT_NE(s.engine, nullptr);
  HttpConnection slow(s.port);
  ASSERT_TRUE(slow.send(get_request("/delay/1500", true)));
  // Wait until the slow request holds a member connection.
  ASSERT_TRUE(wait_until(
      [&] {
        return s.engine->stat("members", "m1", "active_connections") +
                   s.engine->stat("members", "m2", "active_connections") ==
               1;
      },
      3000));
  std::string busy = s.engine->stat("members", "m1", "active_connections") == 1 ? "m1\n" : "m2\n";
  std::string idle = busy == "m1\n" ? "m2\n" : "m1\n";
  auto seen = spread(s.port, 6);
  EXPECT_EQ(seen, (std::map<std::string, int>{{idle, 6}}));
  HttpResponse r = slow.read_response(5000);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, busy);
  // Both idle again: shared.
  EXPECT_EQ(spread(s.port, 4).size(), 2u);
}

TEST_F(MemberSelectionTest, SourceIpKeepsEachClientOnOneMember) {
  HttpSetup s = start_http_setup("SOURCE_IP");
  ASSERT_NE(s.engine, nullptr);
  std::set<std::string> members_used;
  for (int host = 1; host <= 16; ++host) {
    std::string source = "127.0.0." + std::to_string(host);
    std::set<std::string> seen;
    for (int i = 0; i < 4; ++i) {
      HttpResponse r = http_get(s.port, "/", "127.0.0.1", source);
      ASSERT_TRUE(r.ok) << source << ": " << r.error;
      ASSERT_EQ(r.status, 200);
      seen.insert(r.body);
    }
    EXPECT_EQ(seen.size(), 1u) << source << " moved between members";
    members_used.insert(seen.begin(), seen.end());
  }
  // 16 client addresses all hashing to one of two members would be a 1-in-32768 event.
  EXPECT_EQ(members_used.size(), 2u);
}

}  // namespace
}  // namespace pharos::itest
