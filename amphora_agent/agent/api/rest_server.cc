#include "amphora_agent/agent/api/rest_server.h"

#include "amphora_agent/agent/api/resources.h"

namespace pharos::agent::api {

Router make_v1_router(const AgentContext& ctx) {
  const AgentContext* c = &ctx;
  auto bind = [c](ApiResponse (*resource)(const AgentContext&, const ApiRequest&)) {
    return [c, resource](const ApiRequest& request) { return resource(*c, request); };
  };
  const RouteOptions with_body{.reads_body = true};
  Router router;
  router.add("GET", "/v1/info", bind(get_info));
  router.add("GET", "/v1/config", bind(get_config));
  router.add("PUT", "/v1/config", bind(put_config), with_body);
  router.add("GET", "/v1/status", bind(get_status));
  router.add("GET", "/v1/stats", bind(get_stats));
  router.add("GET", "/v1/logs", bind(get_logs));
  router.add("GET", "/v1/logs/aggregates", bind(get_log_aggregates));
  router.add("POST", "/v1/drain", bind(post_drain), with_body);
  router.add("PUT", "/v1/certificates/{id}", bind(put_certificate), with_body);
  router.add("DELETE", "/v1/certificates/{id}", bind(delete_certificate));
  return router;
}

}  // namespace pharos::agent::api
