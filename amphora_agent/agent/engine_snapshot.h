// One read of the engine's counters and member statuses, shared by the heartbeat and the
// Prometheus endpoint. When the engine does not answer, the maps are empty and up is false.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <sys/types.h>

#include "amphora_agent/agent/agent_context.h"
#include "amphora_agent/heartbeat/heartbeat_payload.h"

namespace pharos::agent {

struct MemberSnapshot {
  heartbeat::ListenerStats traffic;              // the five Octavia counters
  std::map<std::string, uint64_t> responses;     // "2xx" -> count, ...
  uint64_t connect_failures = 0;
  std::string status;                            // engine status: UP, DOWN, DRAINING
};

struct EngineSnapshot {
  bool up = false;
  pid_t pid = 0;
  uint64_t restarts = 0;
  uint64_t config_version = 0;  // the engine's own answer when up; else what the agent applied
  std::map<std::string, heartbeat::ListenerStats> listeners;
  std::map<std::string, MemberSnapshot> members;
};

EngineSnapshot take_engine_snapshot(const AgentContext& ctx);

}  // namespace pharos::agent
