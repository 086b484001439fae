// The composition root: owns the state, the engine supervisor, the REST and metrics
// listeners and the heartbeat loop, and starts and stops them in order.
#pragma once

#include <memory>
#include <string>

#include "amphora_agent/agent/agent_config.h"
#include "amphora_agent/agent/agent_context.h"

namespace pharos::agent {

class Agent {
 public:
  explicit Agent(AgentConfig config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // "" when everything runs, else why not (and whatever started is stopped again).
  std::string start();
  void stop();

  const AgentContext& context() const;

 private:
  struct Parts;
  AgentConfig config_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace pharos::agent
