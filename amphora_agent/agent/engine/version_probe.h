// Asks the engine binary for its version (`pharos-engine --version`), bounded in time.
#pragma once

#include <chrono>
#include <string>

namespace pharos::agent::engine {

// First line of the output, or "unknown" when the binary is missing, fails or is too slow.
std::string probe_engine_version(const std::string& binary,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace pharos::agent::engine
