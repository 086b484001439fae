#include "engine/proxy/runtime_config.h"

#include <cstdint>

#include "engine/l7/policy_table.h"
#include "engine/persistence/stick_table.h"

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

namespace {

std::string hsts_value(const config::Hsts& hsts) {
  if (!hsts.enabled) return {};
  std::string value = "max-age=" + std::to_string(hsts.max_age_s);
  if (hsts.include_subdomains) value += "; includeSubDomains";
  if (hsts.preload) value += "; preload";
  return value;
}

// What a pool's sticky entries mean: a table is kept across configs only while this stays.
std::string persistence_settings(const config::SessionPersistence& persistence) {
  return std::to_string(static_cast<int>(persistence.type)) + "|" + persistence.cookie_name + "|" +
         std::to_string(persistence.timeout_s);
}

}  // namespace

std::shared_ptr<const Snapshot> build_snapshot(
    std::shared_ptr<const config::Config> config, stats::StatsRegistry& stats,
    MemberStatusRegistry& member_states, persistence::StickTableRegistry& stick_tables,
    const SnapshotTls& tls) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->config = config;
  std::vector<std::string> listener_ids, member_ids, sticky_pool_ids;
  snapshot->pools.reserve(config->pools.size());
  for (size_t pool_index = 0; pool_index < config->pools.size(); ++pool_index) {
    const auto& pool = config->pools[pool_index];
    PoolRuntime runtime;
    runtime.config = &pool;
    if (pool_index < tls.pools.size()) runtime.tls = tls.pools[pool_index];
    // Idle TLS connections are reused only under the TLS settings (CA, client certificate...)
    // they were made with: each apply builds new contexts, so the key names the context.
    const std::string tls_suffix =
        runtime.tls ? "|tls@" + std::to_string(reinterpret_cast<uintptr_t>(runtime.tls.get())) : "";
    for (const auto& member : pool.members) {
      MemberRuntime m;
      m.config = &member;
      m.address_length = member.address.to_sockaddr(member.protocol_port, &m.address);
      m.endpoint_key = socket_key(member.address, member.protocol_port) + tls_suffix;
      m.state = member_states.get_or_create(member.id);
      m.stats = stats.member(member.id);
      runtime.members.push_back(std::move(m));
      runtime.specs.push_back(lb::MemberSpec{member.id, member.weight, member.backup});
      member_ids.push_back(member.id);
    }
    if (const auto& persistence = pool.session_persistence) {
      sticky_pool_ids.push_back(pool.id);
      runtime.stick_table = stick_tables.get_or_create(pool.id, persistence_settings(*persistence),
                                                       persistence->timeout_s);
      for (size_t i = 0; i < pool.members.size(); ++i) {
        runtime.member_indexes.emplace(pool.members[i].id, static_cast<int>(i));
      }
    }
    snapshot->pools.push_back(std::move(runtime));
  }
  for (size_t index = 0; index < config->listeners.size(); ++index) {
    const auto& listener = config->listeners[index];
    listener_ids.push_back(listener.id);
    if (!listener.admin_state_up) continue;
    ListenerRuntime runtime;
    runtime.config = &listener;
    runtime.socket_key = socket_key(listener.bind_address, listener.protocol_port);
    runtime.port_text = std::to_string(listener.protocol_port);
    runtime.stats = stats.listener(listener.id);
    if (index < tls.listeners.size()) runtime.tls = tls.listeners[index];
    runtime.hsts_value = hsts_value(listener.hsts);
    runtime.l7 = l7::PolicyTable::build(listener, config->pools);
    for (size_t i = 0; i < config->pools.size(); ++i) {
      if (config->pools[i].id == listener.default_pool_id) runtime.default_pool = static_cast<int>(i);
    }
    snapshot->listeners.push_back(std::move(runtime));
  }
  stats.retain_only(listener_ids, member_ids);
  member_states.retain_only(member_ids);
  stick_tables.retain_only(sticky_pool_ids);
  return snapshot;
}

}  // namespace pharos::proxy
