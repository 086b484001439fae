#include "amphora_agent/agent/engine_snapshot.h"

#include "amphora_agent/agent/config_service.h"
#include "amphora_agent/agent/engine/supervisor.h"

namespace pharos::agent {
namespace {

uint64_t u64(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

heartbeat::ListenerStats traffic_of(const nlohmann::json& s) {
  return {u64(s, "bytes_in"), u64(s, "bytes_out"), u64(s, "active_connections"),
          u64(s, "total_connections"), u64(s, "request_errors")};
}

}  // namespace

EngineSnapshot take_engine_snapshot(const AgentContext& ctx) {
  EngineSnapshot snap;
  const auto status = ctx.supervisor->status();
  snap.pid = status.pid;
  snap.restarts = status.restarts;
  snap.config_version = ctx.configs->applied_version();
  if (!status.up) return snap;
  const auto client = ctx.supervisor->client();
  const auto stats = client.get_stats();
  if (!stats.ok()) return snap;
  snap.up = true;
  snap.config_version = u64(stats.body, "version");
  if (auto it = stats.body.find("listeners"); it != stats.body.end() && it->is_object()) {
    for (const auto& [id, s] : it->items()) {
      if (s.is_object()) snap.listeners[id] = traffic_of(s);
    }
  }
  if (auto it = stats.body.find("members"); it != stats.body.end() && it->is_object()) {
    for (const auto& [id, s] : it->items()) {
      if (!s.is_object()) continue;
      MemberSnapshot& m = snap.members[id];
      m.traffic = traffic_of(s);
      m.connect_failures = u64(s, "connect_failures");
      if (auto r = s.find("responses"); r != s.end() && r->is_object()) {
        for (const auto& [cls, n] : r->items()) {
          if (n.is_number_unsigned()) m.responses[cls] = n.get<uint64_t>();
        }
      }
    }
  }
  const auto members = client.get_member_status();
  if (members.ok()) {
    if (auto it = members.body.find("members"); it != members.body.end() && it->is_object()) {
      for (const auto& [id, s] : it->items()) {
        if (s.is_string()) snap.members[id].status = s.get<std::string>();
      }
    }
  }
  return snap;
}

}  // namespace pharos::agent
