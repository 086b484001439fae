#include "agent_fixture.h"

#include "amphora_agent/agent/engine/supervisor.h"

namespace pharos::agent::testing {

const Pki& test_pki() {
  static const Pki pki = [] {
    Pki p;
    p.ca = make_ca("pharos-test-ca");
    p.server = make_leaf(p.ca, "amphora", true);
    p.client = make_leaf(p.ca, "controller", false);
    p.other_ca = make_ca("someone-else-ca");
    p.other_client = make_leaf(p.other_ca, "intruder", false);
    return p;
  }();
  return pki;
}

nlohmann::json sample_config(uint64_t version, uint16_t listener_port, uint16_t member_port) {
  return {
      {"version", version},
      {"amphora_id", kAmphoraId},
      {"workers", 1},
      {"listeners",
       {{{"id", "listener-1"},
         {"protocol", "HTTP"},
         {"bind_address", "127.0.0.1"},
         {"protocol_port", listener_port},
         {"default_pool_id", "pool-1"}}}},
      {"pools",
       {{{"id", "pool-1"},
         {"protocol", "HTTP"},
         {"lb_algorithm", "ROUND_ROBIN"},
         {"members",
          {{{"id", "member-1"}, {"address", "127.0.0.1"}, {"protocol_port", member_port}}}}}}}};
}

void AgentFixture::SetUp() {
  dir_ = make_temp_dir("pharos-agent-test-");
  listener_port_ = free_tcp_port();
  member_port_ = free_tcp_port();
}

void AgentFixture::TearDown() {
  stop_agent();
  std::filesystem::remove_all(dir_);
}

void AgentFixture::prepare(const std::string& engine_binary) {
  const Pki& pki = test_pki();
  write_file(dir_ + "/server.pem", pki.server.cert);
  write_file(dir_ + "/server.key", pki.server.key);
  write_file(dir_ + "/ca.pem", pki.ca.cert);
  config_ = AgentConfig{};
  config_.amphora_id = kAmphoraId;
  config_.bind_host = "127.0.0.1";
  config_.bind_port = free_tcp_port();
  config_.cert_file = dir_ + "/server.pem";
  config_.key_file = dir_ + "/server.key";
  config_.ca_file = dir_ + "/ca.pem";
  config_.max_body_bytes = 64 * 1024;
  config_.state_dir = dir_ + "/state";
  config_.engine_binary = engine_binary;
  config_.control_socket = dir_ + "/engine.sock";
  config_.records_socket = dir_ + "/records.sock";
  config_.restart_backoff_initial_ms = 20;
  config_.restart_backoff_max_ms = 200;
  config_.metrics_host = "127.0.0.1";
  config_.metrics_port = free_tcp_port();
  // Fast log reduction so tests see aggregates within a second or two.
  config_.logs_interval_s = 1;
  config_.logs_close_grace_ms = 200;
  config_.logs_flush_interval_ms = 100;
}

void AgentFixture::start_agent() {
  agent_ = std::make_unique<Agent>(config_);
  const std::string error = agent_->start();
  ASSERT_EQ(error, "");
}

void AgentFixture::stop_agent() {
  if (agent_) agent_->stop();
  agent_.reset();
}

ClientTls AgentFixture::good_tls() const {
  const Pki& pki = test_pki();
  ClientTls tls;
  tls.ca_pem = pki.ca.cert;
  tls.cert_pem = pki.client.cert;
  tls.key_pem = pki.client.key;
  return tls;
}

HttpResult AgentFixture::call(const std::string& method, const std::string& path,
                              const std::string& body, const std::string& content_type) {
  return http_request(config_.bind_port, method, path, body, content_type, good_tls());
}

nlohmann::json AgentFixture::status() {
  const HttpResult r = call("GET", "/v1/status");
  if (r.status != 200) return nullptr;
  return nlohmann::json::parse(r.body, nullptr, false);
}

bool AgentFixture::engine_up() {
  const nlohmann::json s = status();
  return s.is_object() && s["engine"]["up"] == true;
}

}  // namespace pharos::agent::testing
