#include "engine/core/tls_contexts.h"

namespace pharos::core {

namespace {

// Keeps a built context in `slot`, or its error; its warnings go to the log either way.
template <typename Context>
void keep(tls::TlsResult<std::shared_ptr<const Context>> built, std::shared_ptr<const Context>& slot,
          TlsContexts& out) {
  if (!built.ok()) {
    out.errors.push_back({built.error().path, built.error().message});
    return;
  }
  for (const auto& w : built.value()->warnings()) out.warnings.push_back({w.path, w.message});
  slot = std::move(built.value());
}

}  // namespace

TlsContexts build_tls_contexts(const config::Config& config,
                               const std::shared_ptr<tls::TicketKeyRing>& ticket_keys) {
  TlsContexts out;
  out.contexts.listeners.resize(config.listeners.size());
  out.contexts.pools.resize(config.pools.size());
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& tls = config.listeners[i].tls;
    if (tls) keep(tls::ServerTlsContext::create(*tls, config.tls, ticket_keys), out.contexts.listeners[i], out);
  }
  for (size_t i = 0; i < config.pools.size(); ++i) {
    const auto& tls = config.pools[i].tls;
    if (tls) keep(tls::ClientTlsContext::create(*tls), out.contexts.pools[i], out);
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
