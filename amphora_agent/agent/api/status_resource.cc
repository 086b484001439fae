#include "amphora_agent/agent/api/resources.h"
#include "amphora_agent/agent/config_service.h"
#include "amphora_agent/agent/engine/supervisor.h"

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

  // Live from the engine when it answers, otherwise the last statuses the agent recorded.
  nlohmann::json members = nlohmann::json::object();
  const auto client = ctx.supervisor->client();
  const auto live = engine.up ? client.get_member_status() : engine::ControlReply{};
  if (live.ok() && live.body.contains("members") && live.body["members"].is_object()) {
    for (const auto& [id, status] : live.body["members"].items()) {
      members[id] = {{"status", status}, {"source", "engine"}};
    }
  } else if (auto stored = ctx.store->member_health()) {
    for (const auto& m : stored.value()) {
      members[m.member_id] = {{"operating_status", m.operating_status},
                              {"changed_at", m.changed_at},
                              {"source", "state"}};
    }
  }
  body["members"] = std::move(members);
  return json_response(200, body);
}

}  // namespace pharos::agent::api
