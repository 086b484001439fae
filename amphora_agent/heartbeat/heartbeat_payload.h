// What one heartbeat says about an amphora. Types only; the wire format is heartbeat_codec.h and
// schema/heartbeat.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace pharos::heartbeat {

// The envelope version this code writes and the only one it accepts.
inline constexpr uint8_t kHeartbeatVersion = 1;

// Octavia's five listener counters, as the engine's get_stats reports them.
struct ListenerStats {
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t active_connections = 0;
  uint64_t total_connections = 0;
  uint64_t request_errors = 0;

  bool operator==(const ListenerStats&) const = default;
};

// Traffic quality over the last reduction window, from the log reducer.
struct TrafficQuality {
  uint64_t requests = 0;
  double error_rate = 0;  // 0..1: share of requests that ended in error
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;

  bool operator==(const TrafficQuality&) const = default;
};

struct ResourceUsage {
  double cpu_percent = 0;    // engine + agent, of one core, over the last interval
  uint64_t rss_bytes = 0;    // engine + agent resident memory
  uint64_t connections = 0;  // active client connections over every listener

  bool operator==(const ResourceUsage&) const = default;
};

struct HeartbeatPayload {
  uint64_t seq = 0;           // strictly increasing per amphora, kept across agent restarts
  uint64_t timestamp_ms = 0;  // unix time in milliseconds when the heartbeat was built
  std::string amphora_id;
  uint64_t config_version = 0;  // version the engine runs; 0 before any config
  bool engine_up = false;
  uint64_t engine_restarts = 0;
  std::map<std::string, ListenerStats> listeners;     // listener id -> counters
  std::map<std::string, std::string> members;         // member id -> Octavia operating status
  std::map<std::string, TrafficQuality> listener_quality;  // listener id -> quality
  std::map<std::string, TrafficQuality> pool_quality;      // pool id -> quality
  ResourceUsage resources;

  bool operator==(const HeartbeatPayload&) const = default;
};

}  // namespace pharos::heartbeat
