// Which members the agent checks, and how Octavia's HealthMonitor maps onto pharos_health.
#include <gtest/gtest.h>

#include "amphora_agent/agent/members/member_health.h"
#include "engine/config/config_loader.h"

namespace pharos::agent::members {
namespace {

using nlohmann::json;

std::shared_ptr<const config::Config> load(const json& document) {
  auto loaded = config::load_config(document);
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors.front().message);
  return loaded.config;
}

json pool(const std::string& id, json members, json monitor = nullptr, bool admin_up = true) {
  json p = {{"id", id}, {"protocol", "HTTP"}, {"lb_algorithm", "ROUND_ROBIN"},
            {"members", std::move(members)}, {"admin_state_up", admin_up}};
  if (!monitor.is_null()) p["healthmonitor"] = std::move(monitor);
  return p;
}

json with_id(json monitor, const std::string& id) {
  monitor["id"] = id;
  return monitor;
}

TEST(MemberChecks, OctaviaSecondsBecomeMillisecondsAndOnlyAdminUpMembersAreChecked) {
  const json monitor = {{"id", "hm"},          {"type", "HTTP"},      {"delay", 3},
                        {"timeout", 2},        {"max_retries", 4},    {"max_retries_down", 5},
                        {"url_path", "/ping"}, {"expected_codes", "200-204"},
                        {"http_version", 1.1}, {"domain_name", "example.com"}};
  const json disabled = {{"id", "hm2"}, {"type", "TCP"}, {"delay", 1}, {"timeout", 1},
                         {"max_retries", 1}, {"admin_state_up", false}};
  const auto cfg = load(
      {{"version", 1},
       {"pools",
        {pool("p1",
              {{{"id", "m1"}, {"address", "10.0.0.1"}, {"protocol_port", 80},
                {"monitor_address", "10.0.1.1"}, {"monitor_port", 8080}},
               {{"id", "m2"}, {"address", "10.0.0.2"}, {"protocol_port", 80},
                {"admin_state_up", false}}},
              monitor),
         pool("p2", {{{"id", "m3"}, {"address", "10.0.0.3"}, {"protocol_port", 80}}}),
         pool("p3", {{{"id", "m4"}, {"address", "10.0.0.4"}, {"protocol_port", 80}}}, disabled),
         pool("p4", {{{"id", "m5"}, {"address", "10.0.0.5"}, {"protocol_port", 80}}},
              with_id(monitor, "hm4"), false)}}});
  ASSERT_TRUE(cfg);
  const auto checks = member_checks(*cfg);
  ASSERT_EQ(checks.size(), 1u);
  const health::MemberCheck& c = checks[0];
  EXPECT_EQ(c.member_id, "m1");
  EXPECT_EQ(c.pool_id, "p1");
  EXPECT_EQ(c.address, "10.0.0.1");
  EXPECT_EQ(c.port, 80);
  EXPECT_EQ(c.monitor_address, "10.0.1.1");
  EXPECT_EQ(c.monitor_port, 8080);
  EXPECT_EQ(c.monitor.type, health::MonitorType::kHttp);
  EXPECT_EQ(c.monitor.delay, std::chrono::milliseconds(3000));
  EXPECT_EQ(c.monitor.timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(c.monitor.max_retries, 4u);
  EXPECT_EQ(c.monitor.max_retries_down, 5u);
  EXPECT_EQ(c.monitor.url_path, "/ping");
  EXPECT_EQ(c.monitor.expected_codes, "200-204");
  EXPECT_EQ(c.monitor.http_version, "1.1");  // Octavia sends a number
  EXPECT_EQ(c.monitor.domain_name, "example.com");
}

TEST(MemberChecks, OperatingStatusUsesOctaviaNames) {
  MemberState m;
  EXPECT_EQ(operating_status(m), "NO_MONITOR");
  m.monitored = true;
  EXPECT_EQ(operating_status(m), "ONLINE");  // assumed up before the first decision
  m.health = health::MemberStatus::kDown;
  EXPECT_EQ(operating_status(m), "ERROR");
  m.health = health::MemberStatus::kUp;
  EXPECT_EQ(operating_status(m), "ONLINE");
  m.admin_up = false;
  EXPECT_EQ(operating_status(m), "OFFLINE");
}

}  // namespace
}  // namespace pharos::agent::members
