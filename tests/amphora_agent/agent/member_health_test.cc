// Member health checks end to end: the real engine, real member servers, the agent's
// HealthChecker. A stopped member goes DOWN in the engine within delay * fall + timeout and
// traffic moves to the other member; a restarted one comes back after rise checks.
#include <chrono>
#include <csignal>
#include <map>

#include "agent_fixture.h"
#include "amphora_agent/agent/engine/supervisor.h"
#include "amphora_agent/state/state_store.h"

namespace pharos::agent::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Octavia values: whole seconds. delay 1 s, timeout 1 s, rise 2, fall 2.
constexpr int kDelayS = 1;
constexpr int kTimeoutS = 1;
constexpr int kRise = 2;
constexpr int kFall = 2;
// Scheduling slack on a loaded test machine.
constexpr auto kSlack = std::chrono::milliseconds(1500);

class MemberHealthTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    second_port_ = free_tcp_port();
    third_port_ = free_tcp_port();
    prepare();
    start_agent();
    ASSERT_TRUE(eventually([&] { return engine_up(); }, std::chrono::seconds(15)));
  }

  // Two monitored members, one admin-down member, and a second pool without a monitor.
  json monitored_config(uint64_t version) const {
    json c = config(version);
    json& pool = c["pools"][0];
    pool["members"].push_back(
        {{"id", "member-2"}, {"address", "127.0.0.1"}, {"protocol_port", second_port_}});
    pool["members"].push_back({{"id", "member-3"},
                               {"address", "127.0.0.1"},
                               {"protocol_port", third_port_},
                               {"admin_state_up", false}});
    pool["healthmonitor"] = {{"id", "hm-1"},          {"type", "HTTP"},
                             {"delay", kDelayS},      {"timeout", kTimeoutS},
                             {"max_retries", kRise},  {"max_retries_down", kFall},
                             {"url_path", "/health"}, {"expected_codes", "200"}};
    c["pools"].push_back({{"id", "pool-2"},
                          {"protocol", "HTTP"},
                          {"lb_algorithm", "ROUND_ROBIN"},
                          {"members",
                           {{{"id", "member-4"},
                             {"address", "127.0.0.1"},
                             {"protocol_port", third_port_}}}}});
    return c;
  }

  json member(const std::string& id) {
    const json s = status();
    return s.is_object() && s["members"].contains(id) ? s["members"][id] : json();
  }

  bool member_is(const std::string& id, const std::string& operating, const std::string& engine) {
    const json m = member(id);
    return m.is_object() && m["operating_status"] == operating && m.value("engine_status", "") == engine;
  }

  // Which backend answered each of `n` requests through the listener.
  std::map<std::string, int> spread(int n) {
    ClientTls plain;
    plain.enabled = false;
    std::map<std::string, int> by_backend;
    for (int i = 0; i < n; ++i) {
      const HttpResult r = http_request(listener_port_, "GET", "/", "", "", plain);
      ++by_backend[r.status == 200 ? r.body : "status " + std::to_string(r.status)];
    }
    return by_backend;
  }

  std::string stored_status(const std::string& id) {
    auto rows = agent_->context().store->member_health();
    if (!rows) return "";
    for (const auto& row : rows.value()) {
      if (row.member_id == id) return row.operating_status;
    }
    return "";
  }

  uint16_t second_port_ = 0;
  uint16_t third_port_ = 0;
};

TEST_F(MemberHealthTest, StoppedMemberGoesDownAndComesBack) {
  DemoBackend first(member_port_, "m1");
  DemoBackend second(second_port_, "m2");
  ASSERT_EQ(call("PUT", "/v1/config", monitored_config(1).dump(), "application/json").status, 200);

  ASSERT_TRUE(eventually([&] {
    return member("member-1").value("health", "") == "UP" &&
           member("member-2").value("health", "") == "UP";
  })) << status().dump();
  EXPECT_EQ(member("member-1")["operating_status"], "ONLINE");
  EXPECT_EQ(member("member-3")["operating_status"], "OFFLINE");
  EXPECT_EQ(member("member-4")["operating_status"], "NO_MONITOR");
  EXPECT_EQ(stored_status("member-3"), "OFFLINE");
  EXPECT_EQ(stored_status("member-4"), "NO_MONITOR");

  first.stop();
  const auto stopped = Clock::now();
  ASSERT_TRUE(eventually([&] { return member_is("member-1", "ERROR", "DOWN"); },
                         std::chrono::seconds(kDelayS * kFall + kTimeoutS) + kSlack))
      << "member-1 not DOWN within delay * fall + timeout: " << status().dump();
  const auto down_after = Clock::now() - stopped;
  EXPECT_LE(down_after, std::chrono::seconds(kDelayS * kFall + kTimeoutS) + kSlack);
  EXPECT_EQ(stored_status("member-1"), "ERROR");
  EXPECT_EQ(member("member-2")["operating_status"], "ONLINE");
  const auto moved = spread(6);
  EXPECT_EQ(moved.size(), 1u) << "traffic still reaches the stopped member";
  EXPECT_EQ(moved.count("m2\n"), 1u);

  first.start();
  const auto restarted = Clock::now();
  ASSERT_TRUE(eventually([&] { return member_is("member-1", "ONLINE", "UP"); },
                         std::chrono::seconds(kDelayS * kRise + kTimeoutS) + kSlack))
      << "member-1 not UP after rise checks: " << status().dump();
  EXPECT_LE(Clock::now() - restarted, std::chrono::seconds(kDelayS * kRise + kTimeoutS) + kSlack);
  EXPECT_EQ(stored_status("member-1"), "ONLINE");
  const auto back = spread(8);
  EXPECT_GT(back.count("m1\n") ? back.at("m1\n") : 0, 0) << "no traffic to the restored member";
  EXPECT_GT(back.count("m2\n") ? back.at("m2\n") : 0, 0);
}

TEST_F(MemberHealthTest, RestartedEngineGetsTheHealthStatusesAgain) {
  DemoBackend second(second_port_, "m2");  // member-1 never answers
  ASSERT_EQ(call("PUT", "/v1/config", monitored_config(1).dump(), "application/json").status, 200);
  ASSERT_TRUE(eventually([&] { return member_is("member-1", "ERROR", "DOWN"); },
                         std::chrono::seconds(10)))
      << status().dump();

  const pid_t pid = status()["engine"]["pid"].get<pid_t>();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // A new engine starts every member UP; the agent re-applies the config and pushes DOWN.
  ASSERT_TRUE(eventually(
      [&] {
        const json s = status();
        if (!s.is_object() || s["engine"]["up"] != true || s["engine"]["pid"] == pid) return false;
        const auto live = agent_->context().supervisor->client().get_member_status();
        return live.ok() && live.body["members"].value("member-1", "") == "DOWN" &&
               live.body["members"].value("member-2", "") == "UP";
      },
      std::chrono::seconds(15)))
      << status().dump();
  const auto served = spread(4);
  EXPECT_EQ(served.size(), 1u);
  EXPECT_EQ(served.count("m2\n"), 1u);
}

}  // namespace
}  // namespace pharos::agent::testing
