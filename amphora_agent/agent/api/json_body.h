// Request bodies: JSON parsing and validation against schema/agent-api/*.schema.json, which
// are embedded at build time and compiled once with the engine's JSON Schema validator.
#pragma once

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "amphora_agent/agent/api/api_types.h"
#include "engine/config/json_schema.h"

namespace pharos::agent::api {

// name is the file name without ".schema.json", e.g. "config.put". Aborts on an unknown name
// or a schema that does not compile: both are build errors the tests rule out.
const pharos::config::JsonSchema& agent_api_schema(std::string_view name);

struct JsonBody {
  nlohmann::json document;
  std::optional<ApiResponse> error;  // set when the body is unusable; return it as is
};

// Requires application/json (415), parses (400 malformed_json) and validates (400
// schema_violation with the first error's path and every error listed). An empty body is
// taken as {} when allow_empty.
JsonBody parse_json_body(const ApiRequest& request, std::string_view schema_name,
                         bool allow_empty = false);

}  // namespace pharos::agent::api
