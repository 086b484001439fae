#include "amphora_agent/agent/api/json_body.h"
#include "amphora_agent/agent/api/resources.h"
#include "amphora_agent/agent/config_service.h"

namespace pharos::agent::api {

ApiResponse get_config(const AgentContext& ctx, const ApiRequest&) {
  auto current = ctx.store->current_config();
  if (!current) return error_response(500, "state_error", current.error().message);
  if (!current.value()) return error_response(404, "no_config", "no config has been accepted yet");
  ApiResponse response;
  response.body = current.value()->document;
  return response;
}

ApiResponse put_config(const AgentContext& ctx, const ApiRequest& request) {
  JsonBody body = parse_json_body(request, "config.put");
  if (body.error) return *body.error;
  const ApplyResult result = ctx.configs->apply(body.document);
  const nlohmann::json ok = {{"version", result.version}};
  const std::string first_path = result.errors.empty() ? "" : result.errors.front().path;
  switch (result.outcome) {
    case ApplyOutcome::kApplied:
      return json_response(200, {{"version", result.version}, {"changed", true}});
    case ApplyOutcome::kUnchanged:
      return json_response(200, {{"version", result.version}, {"changed", false}});
    case ApplyOutcome::kInvalid: {
      std::string message = result.message;
      if (!result.errors.empty()) {
        message += ": " + (first_path.empty() ? std::string("body") : first_path) + ": " +
                   result.errors.front().message;
      }
      return error_response(422, "invalid_config", message, first_path, result.errors);
    }
    case ApplyOutcome::kConflict:
      return error_response(409, "version_conflict", result.message, "/version");
    case ApplyOutcome::kEngineUnavailable:
      return error_response(503, "engine_unavailable", result.message);
    case ApplyOutcome::kInternal:
      break;
  }
  return error_response(500, "internal_error", result.message);
}

}  // namespace pharos::agent::api
