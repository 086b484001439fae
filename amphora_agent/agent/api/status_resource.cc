#include "amphora_agent/agent/api/resources.h"
#include "amphora_agent/agent/config_service.h"
#include "amphora_agent/agent/engine/supervisor.h"
#include "amphora_agent/agent/logs/records_reader.h"
#include "amphora_agent/agent/members/member_health.h"

namespace pharos::agent::api {

ApiResponse get_status(const AgentContext& ctx, const ApiRequest&) {
  const engine::EngineStatus engine = ctx.supervisor->status();
  nlohmann::json body;
  body["engine"] = {{"up", engine.up},
                    {"pid", engine.pid},
                    {"restarts", engine.restarts},
                    {"last_exit", engine.last_exit},
                    {"drained", engine.drained}};
  auto accepted = ctx.store->current_config();
  body["config"] = {
      {"accepted_version", accepted && accepted.value() ? accepted.value()->version : 0},
      {"applied_version", ctx.configs->applied_version()}};

  // Every member of the running config with what the checks say, and the engine's own status
  // when it answers; before any config, the statuses the agent last recorded.
  nlohmann::json members = nlohmann::json::object();
  const auto client = ctx.supervisor->client();
  const auto live = engine.up ? client.get_member_status() : engine::ControlReply{};
  const nlohmann::json* engine_members =
      live.ok() && live.body.contains("members") && live.body["members"].is_object()
          ? &live.body["members"]
          : nullptr;
  const auto configured = ctx.members->members();
  for (const auto& [id, m] : configured) {
    const std::string health = m.monitored ? std::string(health::to_string(m.health)) : "NONE";
    nlohmann::json entry = {{"operating_status", members::operating_status(m)},
                            {"pool_id", m.pool_id},
                            {"monitored", m.monitored},
                            {"health", health},
                            {"changed_at", m.changed_at}};
    if (engine_members && engine_members->contains(id)) {
      entry["engine_status"] = (*engine_members)[id];
    }
    members[id] = std::move(entry);
  }
  if (configured.empty()) {
    if (auto stored = ctx.store->member_health()) {
      for (const auto& m : stored.value()) {
        members[m.member_id] = {{"operating_status", m.operating_status},
                                {"changed_at", m.changed_at},
                                {"source", "state"}};
      }
    }
  }
  body["members"] = std::move(members);
  const auto records = ctx.records->stats();
  body["logs"] = {{"datagrams", records.datagrams},
                  {"records", records.records},
                  {"decode_errors", records.decode_errors},
                  {"significant", records.significant},
                  {"aggregates", records.aggregates}};
  return json_response(200, body);
}

}  // namespace pharos::agent::api
