// Renders an engine snapshot in the Prometheus text exposition format (version 0.0.4).
#pragma once

#include <string>

#include "amphora_agent/agent/engine_snapshot.h"

namespace pharos::agent::metrics {

inline constexpr const char* kContentType = "text/plain; version=0.0.4";

std::string render(const EngineSnapshot& snapshot, const std::string& amphora_id);

// Escapes a label value: backslash, double quote and newline.
std::string escape_label(const std::string& value);

}  // namespace pharos::agent::metrics
