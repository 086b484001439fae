// Starts a whole agent (REST over mutual TLS, metrics, heartbeat, state) against an engine
// binary, with certificates made for the test and a private state directory.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "amphora_agent/agent/agent.h"
#include "test_support.h"

namespace pharos::agent::testing {

inline constexpr const char* kAmphoraId = "5c9a2b1e-6f0d-4a8e-9b3c-2d7e8f1a4b60";

struct Pki {
  Pem ca;
  Pem server;
  Pem client;
  Pem other_ca;
  Pem other_client;
};
const Pki& test_pki();

// A small valid engine config of the given version, listening on listener_port.
nlohmann::json sample_config(uint64_t version, uint16_t listener_port = 18480,
                             uint16_t member_port = 18481);

class AgentFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Builds the agent config for the real engine; tests may adjust config_ before start_agent().
  void prepare(const std::string& engine_binary = PHAROS_ENGINE_BINARY);
  void start_agent();
  void stop_agent();

  HttpResult call(const std::string& method, const std::string& path,
                  const std::string& body = "", const std::string& content_type = "");
  nlohmann::json status();
  bool engine_up();
  // sample_config on this test's own listener and member ports.
  nlohmann::json config(uint64_t version) const {
    return sample_config(version, listener_port_, member_port_);
  }

  ClientTls good_tls() const;

  std::string dir_;
  uint16_t listener_port_ = 0;
  uint16_t member_port_ = 0;
  AgentConfig config_;
  std::unique_ptr<Agent> agent_;
};

}  // namespace pharos::agent::testing
