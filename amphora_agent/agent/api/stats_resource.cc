#include "amphora_agent/agent/api/resources.h"
#include "amphora_agent/agent/engine/supervisor.h"

namespace pharos::agent::api {

ApiResponse get_stats(const AgentContext& ctx, const ApiRequest&) {
  auto reply = ctx.supervisor->client().get_stats();
  if (!reply.ok()) {
    return error_response(503, "engine_unavailable",
                          std::string("cannot read stats from the engine (") +
                              engine::to_string(reply.errc) + "): " + reply.message);
  }
  reply.body.erase("ok");
  return json_response(200, reply.body);
}

}  // namespace pharos::agent::api
