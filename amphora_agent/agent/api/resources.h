// The /v1 resources, one module per resource (info_resource.cc, config_resource.cc, ...).
// Each function is a complete handler: it validates, acts and builds the response.
#pragma once

#include "amphora_agent/agent/agent_context.h"
#include "amphora_agent/agent/api/api_types.h"

namespace pharos::agent::api {

// GET /v1/info
ApiResponse get_info(const AgentContext& ctx, const ApiRequest& request);
// GET /v1/config, PUT /v1/config
ApiResponse get_config(const AgentContext& ctx, const ApiRequest& request);
ApiResponse put_config(const AgentContext& ctx, const ApiRequest& request);
// GET /v1/status
ApiResponse get_status(const AgentContext& ctx, const ApiRequest& request);
// GET /v1/stats
ApiResponse get_stats(const AgentContext& ctx, const ApiRequest& request);
// GET /v1/logs, GET /v1/logs/aggregates
ApiResponse get_logs(const AgentContext& ctx, const ApiRequest& request);
ApiResponse get_log_aggregates(const AgentContext& ctx, const ApiRequest& request);
// POST /v1/drain
ApiResponse post_drain(const AgentContext& ctx, const ApiRequest& request);
// PUT /v1/certificates/{id}, DELETE /v1/certificates/{id}
ApiResponse put_certificate(const AgentContext& ctx, const ApiRequest& request);
ApiResponse delete_certificate(const AgentContext& ctx, const ApiRequest& request);

}  // namespace pharos::agent::api
