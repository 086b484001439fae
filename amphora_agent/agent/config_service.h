// Accepting an engine config: validate (agent-api envelope already checked by the resource,
// then the engine's own validator), order versions, apply through the control socket, and
// only then record it as the accepted config. Also re-applies the accepted config to a
// freshly (re)started engine. One mutex serializes every apply.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "amphora_agent/agent/api/api_types.h"
#include "amphora_agent/agent/engine/control_client.h"
#include "amphora_agent/state/state_store.h"

namespace pharos::config {
struct Config;
}

namespace pharos::agent {

enum class ApplyOutcome {
  kApplied,            // the engine runs it and it is recorded
  kUnchanged,          // same version and same content as the accepted one: a retry
  kInvalid,            // the engine's validator (in the agent or in the engine) refused it
  kConflict,           // version not above the accepted one
  kEngineUnavailable,  // the engine could not be reached; nothing changed
  kInternal,           // state could not be written after the engine applied it
};

struct ApplyResult {
  ApplyOutcome outcome = ApplyOutcome::kInternal;
  uint64_t version = 0;
  std::string message;
  std::vector<api::FieldError> errors;
};

class ConfigService {
 public:
  // on_running runs (under the apply lock, so in order) each time the engine confirms a config:
  // after an accepted PUT and after every re-apply to a (re)started engine.
  using RunningListener = std::function<void(const config::Config&)>;

  ConfigService(std::string amphora_id, state::StateStore& store,
                std::function<engine::ControlClient()> client,
                RunningListener on_running = nullptr);

  ApplyResult apply(const nlohmann::json& document);

  // Re-applies the accepted config, if any, to an engine that has just started.
  void reapply_accepted();

  // The version the engine last confirmed through this agent; 0 before any.
  uint64_t applied_version() const { return applied_version_.load(); }

 private:
  const std::string amphora_id_;
  state::StateStore& store_;
  const std::function<engine::ControlClient()> client_;
  const RunningListener on_running_;
  std::mutex apply_mu_;
  std::atomic<uint64_t> applied_version_{0};
};

}  // namespace pharos::agent
