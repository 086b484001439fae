#include "amphora_agent/agent/api/json_body.h"
#include "amphora_agent/agent/api/resources.h"
#include "amphora_agent/agent/engine/supervisor.h"

namespace pharos::agent::api {

ApiResponse post_drain(const AgentContext& ctx, const ApiRequest& request) {
  JsonBody body = parse_json_body(request, "drain.post", /*allow_empty=*/true);
  if (body.error) return *body.error;
  const bool exit = body.document.value("exit", false);
  // Said before the request so the supervisor cannot see the exit first and restart.
  if (exit) ctx.supervisor->expect_exit();
  const auto reply = ctx.supervisor->client().drain(exit);
  if (!reply.ok()) {
    return error_response(503, "engine_unavailable",
                          std::string("the engine did not take the drain (") +
                              engine::to_string(reply.errc) + "): " + reply.message);
  }
  return json_response(202, {{"draining", true}, {"exit", exit}});
}

}  // namespace pharos::agent::api
