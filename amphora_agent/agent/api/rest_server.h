// The controller-facing REST API: wires the /v1 routes to their resources. Nothing else.
#pragma once

#include "amphora_agent/agent/agent_context.h"
#include "amphora_agent/agent/api/router.h"

namespace pharos::agent::api {

// Every /v1 route, bound to ctx (which must outlive the router).
Router make_v1_router(const AgentContext& ctx);

}  // namespace pharos::agent::api
