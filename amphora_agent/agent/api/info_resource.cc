#include "amphora_agent/agent/agent_config.h"
#include "amphora_agent/agent/api/resources.h"

namespace pharos::agent::api {

ApiResponse get_info(const AgentContext& ctx, const ApiRequest&) {
  return json_response(
      200, {{"agent_version", PHAROS_AGENT_VERSION},
            {"engine_version", ctx.engine_version},
            {"amphora_id", ctx.config->amphora_id},
            {"api_version", "v1"},
            {"heartbeat_version", 1},
            {"capabilities",
             {{"listener_protocols", {"TCP", "HTTP", "HTTPS", "TERMINATED_HTTPS"}},
              {"pool_protocols", {"TCP", "HTTP", "HTTPS", "PROXY"}},
              {"lb_algorithms",
               {"ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"}},
              {"features",
               {"certificates", "drain", "metrics", "signed_heartbeat", "member_health",
                "transaction_logs"}}}}});
}

}  // namespace pharos::agent::api
