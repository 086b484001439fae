#include "engine/core/tls_contexts.h"

namespace pharos::core {

TlsContexts build_tls_contexts(const config::Config& config,
                               const std::shared_ptr<tls::TicketKeyRing>& ticket_keys) {
  TlsContexts out;
  out.contexts.listeners.resize(config.listeners.size());
  out.contexts.pools.resize(config.pools.size());
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& listener = config.listeners[i];
    if (!listener.tls) continue;
    auto built = tls::ServerTlsContext::create(*listener.tls, config.tls, ticket_keys);
    if (!built.ok()) {
      out.errors.push_back({built.error().path, built.error().message});
      continue;
    }
    for (const auto& w : built.value()->warnings()) out.warnings.push_back({w.path, w.message});
    out.contexts.listeners[i] = built.value();
  }
  for (size_t i = 0; i < config.pools.size(); ++i) {
    const auto& pool = config.pools[i];
    if (!pool.tls) continue;
    auto built = tls::ClientTlsContext::create(*pool.tls);
    if (!built.ok()) {
      out.errors.push_back({built.error().path, built.error().message});
      continue;
    }
    for (const auto& w : built.value()->warnings()) out.warnings.push_back({w.path, w.message});
    out.contexts.pools[i] = built.value();
  }
  return out;
}

const std::shared_ptr<tls::TicketKeyRing>& TicketKeys::for_config(const config::TlsSessions& sessions) {
  if (sessions.ticket_key_rotation_s != period_s_) {
    period_s_ = sessions.ticket_key_rotation_s;
    ring_ = tls::TicketKeyRing::create(sessions);
  }
  return ring_;
}

}  // namespace pharos::core
