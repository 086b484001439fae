// schema/engine-config.schema.json, embedded at build time so the engine, the agent and
// pharos._core all validate against the one file in schema/.
#pragma once

#include <string_view>

#include "engine/config/json_schema.h"

namespace pharos::config {

// The schema text exactly as it is in schema/engine-config.schema.json.
std::string_view engine_config_schema_text();

// That schema, compiled on first use (thread-safe). Aborts if the embedded schema does not
// compile, which the build's tests rule out.
const JsonSchema& engine_config_schema();

}  // namespace pharos::config
