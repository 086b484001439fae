// The engine's configuration model: the typed form of one JSON document that follows
// schema/engine-config.schema.json. Names are Octavia's. Types only; loading and validation
// live in config_loader.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/config/address.h"

namespace pharos::config {

enum class ListenerProtocol { kTcp, kHttp, kHttps, kTerminatedHttps };
enum class PoolProtocol { kTcp, kHttp, kHttps, kProxy };
enum class LbAlgorithm { kRoundRobin, kLeastConnections, kSourceIp, kSourceIpPort };

// Octavia's listener insert_headers: which X-Forwarded-* headers the engine adds.
struct InsertHeaders {
  bool x_forwarded_for = false;
  bool x_forwarded_port = false;
  bool x_forwarded_proto = false;
};

struct Member {
  std::string id;
  std::string name;
  IpAddress address;
  uint16_t protocol_port = 0;
  uint32_t weight = 1;  // 0..256; 0 takes no new connections.
  bool backup = false;  // used only when no primary member is usable.
  bool admin_state_up = true;
  std::optional<IpAddress> monitor_address;  // where health probes go; unset: address
  uint16_t monitor_port = 0;                 // 0: protocol_port
};

struct HealthMonitor {
  std::string id;
  std::string name;
  std::string type;  // HTTP, HTTPS, TCP, PING, TLS-HELLO, UDP-CONNECT, SCTP
  uint32_t delay_s = 5;
  uint32_t timeout_s = 5;
  uint32_t max_retries = 3;       // rise
  uint32_t max_retries_down = 3;  // fall
  std::string http_method = "GET";
  std::string url_path = "/";
  std::string expected_codes = "200";
  std::string http_version = "1.1";
  std::string domain_name;
  bool admin_state_up = true;
};

struct Pool {
  std::string id;
  std::string name;
  PoolProtocol protocol = PoolProtocol::kHttp;
  LbAlgorithm lb_algorithm = LbAlgorithm::kRoundRobin;
  bool admin_state_up = true;
  uint32_t connect_retries = 3;  // other members tried after a failed connect.
  std::vector<Member> members;
  std::optional<HealthMonitor> healthmonitor;
};

struct Listener {
  std::string id;
  std::string name;
  ListenerProtocol protocol = ListenerProtocol::kHttp;
  IpAddress bind_address;
  uint16_t protocol_port = 0;
  bool admin_state_up = true;
  int64_t connection_limit = -1;  // -1: unlimited
  uint32_t timeout_client_data_ms = 50000;
  uint32_t timeout_member_connect_ms = 5000;
  uint32_t timeout_member_data_ms = 50000;
  uint32_t timeout_tcp_inspect_ms = 0;
  std::vector<Cidr> allowed_cidrs;  // empty: everyone
  InsertHeaders insert_headers;
  std::string default_pool_id;  // empty: no pool, requests get 503
};

// Limits the engine applies to HTTP/1 parsing; defaults suit Octavia's HAProxy-like defaults.
struct HttpLimits {
  uint32_t max_header_bytes = 16384;
  uint32_t max_headers = 100;
};

struct Config {
  uint64_t version = 0;
  std::string amphora_id;
  uint32_t workers = 0;  // 0: one per core
  HttpLimits http;
  std::string records_socket;  // unix datagram socket path for transaction records; empty: off
  std::vector<Listener> listeners;
  std::vector<Pool> pools;

  const Pool* find_pool(const std::string& id) const;
};

}  // namespace pharos::config
