#include "engine/proxy/runtime_config.h"

namespace pharos::proxy {

std::string socket_key(const config::IpAddress& address, uint16_t port) {
  return address.text + "|" + std::to_string(port);
}

const ListenerRuntime* Snapshot::find_listener(const std::string& key) const {
  for (const auto& listener : listeners) {
    if (listener.socket_key == key) return &listener;
  }
  return nullptr;
}

std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> config,
                                               stats::StatsRegistry& stats,
                                               MemberStatusRegistry& member_states) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->config = config;
  std::vector<std::string> listener_ids, member_ids;
  snapshot->pools.reserve(config->pools.size());
  for (const auto& pool : config->pools) {
    PoolRuntime runtime;
    runtime.config = &pool;
    for (const auto& member : pool.members) {
      MemberRuntime m;
      m.config = &member;
      m.address_length = member.address.to_sockaddr(member.protocol_port, &m.address);
      m.endpoint_key = socket_key(member.address, member.protocol_port);
      m.state = member_states.get_or_create(member.id);
      m.stats = stats.member(member.id);
      runtime.members.push_back(std::move(m));
      runtime.specs.push_back(lb::MemberSpec{member.id, member.weight, member.backup});
      member_ids.push_back(member.id);
    }
    snapshot->pools.push_back(std::move(runtime));
  }
  for (const auto& listener : config->listeners) {
    listener_ids.push_back(listener.id);
    if (!listener.admin_state_up) continue;
    ListenerRuntime runtime;
    runtime.config = &listener;
    runtime.socket_key = socket_key(listener.bind_address, listener.protocol_port);
    runtime.port_text = std::to_string(listener.protocol_port);
    runtime.stats = stats.listener(listener.id);
    for (size_t i = 0; i < config->pools.size(); ++i) {
      if (config->pools[i].id == listener.default_pool_id) runtime.default_pool = static_cast<int>(i);
    }
    snapshot->listeners.push_back(std::move(runtime));
  }
  stats.retain_only(listener_ids, member_ids);
  member_states.retain_only(member_ids);
  return snapshot;
}

}  // namespace pharos::proxy
