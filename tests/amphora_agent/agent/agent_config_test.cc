#include "amphora_agent/agent/agent_config.h"

#include <fstream>

#include <gtest/gtest.h>

namespace pharos::agent {
namespace {

TEST(AgentConfig, SampleFileParses) {
  const auto result = load_agent_config("amphora_agent/agent/pharos-agent.conf.sample");
  ASSERT_TRUE(result.ok()) << (result.errors.empty() ? "" : result.errors.front());
  const AgentConfig& c = result.config;
  EXPECT_EQ(c.amphora_id, "5f0e8a53-2b4c-4f1e-9a3d-0c6b7e8f9a10");
  EXPECT_EQ(c.bind_port, 9443);
  ASSERT_EQ(c.heartbeat_targets.size(), 2u);
  EXPECT_EQ(c.heartbeat_targets[1].host, "192.0.2.11");
  EXPECT_EQ(c.heartbeat_interval_s, 10u);
  EXPECT_EQ(c.metrics_port, 9102);
  EXPECT_EQ(c.max_body_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c.logs_interval_s, 60u);
  EXPECT_EQ(c.logs_sla_ms, 1000u);
  EXPECT_EQ(c.logs_records_max_rows, 100000u);
  EXPECT_EQ(c.logs_aggregates_max_age_s, 172800u);
}

TEST(AgentConfig, LogSettings) {
  const std::string text =
      "[amphora]\namphora_id = a\n[api]\ncert_file = /c\nkey_file = /k\nca_file = /ca\n"
      "[logs]\ninterval = 10\nsla_ms = 250\nrecords_max_rows = 0\nrecords_max_age = 3600\n"
      "flush_interval_ms = 5\n";
  const auto result = parse_agent_config(text, "t.conf");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_NE(result.errors[0].find("[logs] flush_interval_ms"), std::string::npos)
      << result.errors[0];
  EXPECT_EQ(result.config.logs_interval_s, 10u);
  EXPECT_EQ(result.config.logs_sla_ms, 250u);
  EXPECT_EQ(result.config.logs_records_max_rows, 0u);
  EXPECT_EQ(result.config.logs_records_max_age_s, 3600u);
}

TEST(AgentConfig, ErrorsNameTheLine) {
  const std::string text =
      "[amphora]\namphora_id = a\n[api]\nbind_port = 70000\ncert_file = relative.pem\n"
      "colour = blue\n[nowhere]\n";
  const auto result = parse_agent_config(text, "t.conf");
  ASSERT_FALSE(result.ok());
  std::string all;
  for (const auto& e : result.errors) all += e + "\n";
  EXPECT_NE(all.find("t.conf:4: [api] bind_port"), std::string::npos) << all;
  EXPECT_NE(all.find("t.conf:5: [api] cert_file: must be an absolute path"), std::string::npos) << all;
  EXPECT_NE(all.find("t.conf:6: unknown key 'colour'"), std::string::npos) << all;
  EXPECT_NE(all.find("t.conf:7: unknown section [nowhere]"), std::string::npos) << all;
  EXPECT_NE(all.find("key_file is required"), std::string::npos) << all;
}

TEST(AgentConfig, HeartbeatTargetsNeedAKey) {
  const std::string text =
      "[amphora]\namphora_id = a\n[api]\ncert_file = /c\nkey_file = /k\nca_file = /ca\n"
      "[heartbeat]\ntargets = 127.0.0.1:5555\nkey = short\n";
  const auto result = parse_agent_config(text, "t.conf");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_NE(result.errors[0].find("at least 16 bytes"), std::string::npos);
}

}  // namespace
}  // namespace pharos::agent
