// What the REST resources, the heartbeat loop and the metrics endpoint share. Owned by Agent
// (agent.h); everything here outlives the listeners that use it.
#pragma once

#include <string>

namespace pharos::agent {

struct AgentConfig;
class CertificateStore;
class ConfigService;
namespace engine {
class EngineSupervisor;
}
namespace logs {
class RecordsReader;
}
namespace members {
class MemberHealth;
}
namespace state {
class StateStore;
}

struct AgentContext {
  const AgentConfig* config = nullptr;
  state::StateStore* store = nullptr;
  engine::EngineSupervisor* supervisor = nullptr;
  ConfigService* configs = nullptr;
  CertificateStore* certificates = nullptr;
  members::MemberHealth* members = nullptr;
  logs::RecordsReader* records = nullptr;
  std::string engine_version;  // first line of `pharos-engine --version`, or "unknown"
};

}  // namespace pharos::agent
