// The agent's own settings, read from an INI file (--config-file). The format and every key
// are described in pharos-agent.conf.sample beside this file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "amphora_agent/heartbeat/heartbeat_sender.h"

namespace pharos::agent {

struct AgentConfig {
  std::string amphora_id;

  // [api]: the controller-facing REST endpoint, mutual TLS only.
  std::string bind_host = "0.0.0.0";
  uint16_t bind_port = 9443;
  std::string cert_file;  // agent certificate (PEM, may hold the chain)
  std::string key_file;   // its private key (PEM)
  std::string ca_file;    // CA that signs controller client certificates
  uint64_t max_body_bytes = 4 * 1024 * 1024;

  // [state]
  std::string state_dir = "/var/lib/pharos-agent";

  // [engine]
  std::string engine_binary = "/usr/bin/pharos-engine";
  std::string control_socket = "/run/pharos/engine.sock";
  std::string records_socket = "/run/pharos/records.sock";
  uint32_t restart_backoff_initial_ms = 200;
  uint32_t restart_backoff_max_ms = 30000;
  uint32_t engine_ready_timeout_ms = 10000;
  uint32_t control_timeout_ms = 5000;

  // [heartbeat]
  std::vector<heartbeat::Target> heartbeat_targets;
  std::string heartbeat_key;
  uint32_t heartbeat_interval_s = 10;

  // [logs]: the log reducer fed by the engine's transaction records (records_socket above).
  uint32_t logs_interval_s = 60;          // aggregation interval
  uint32_t logs_close_grace_ms = 5000;    // an interval is written this long after its end
  uint32_t logs_sla_ms = 1000;            // slower requests are kept whole (see the reducer)
  uint32_t logs_flush_interval_ms = 1000; // how often kept records reach the database
  uint32_t logs_retention_interval_s = 60;
  uint64_t logs_records_max_rows = 100000;
  uint64_t logs_records_max_age_s = 7 * 86400;
  uint64_t logs_aggregates_max_rows = 500000;
  uint64_t logs_aggregates_max_age_s = 2 * 86400;

  // [metrics]: plain-HTTP Prometheus endpoint; port 0 turns it off.
  std::string metrics_host = "127.0.0.1";
  uint16_t metrics_port = 9102;
};

struct AgentConfigResult {
  AgentConfig config;
  std::vector<std::string> errors;  // "file:line: message" or "[section] key: message"
  bool ok() const { return errors.empty(); }
};

// Parses INI text. Unknown sections or keys are errors, so a typo never silently falls back
// to a default.
AgentConfigResult parse_agent_config(const std::string& text, const std::string& origin);
AgentConfigResult load_agent_config(const std::string& path);

}  // namespace pharos::agent
