// The TLS contexts one config needs, built on the control thread before the config is applied:
// one ServerTlsContext per TERMINATED_HTTPS listener, one ClientTlsContext per pool that
// re-encrypts to its members. Certificate problems come back as config
// errors (JSON pointer and reason), so a bad certificate rejects the config and changes nothing.
#pragma once

#include <memory>
#include <vector>

#include "engine/config/config_loader.h"
#include "engine/proxy/runtime_config.h"
#include "engine/tls/client_context.h"
#include "engine/tls/server_context.h"
#include "engine/tls/ticket_key_ring.h"

namespace pharos::core {

struct TlsContexts {
  proxy::SnapshotTls contexts;  // by config listener and pool index
  std::vector<config::ConfigError> errors;    // empty: every context was built
  std::vector<config::ConfigError> warnings;  // for the log; the config is still good
};

// `ticket_keys` null: no session tickets.
TlsContexts build_tls_contexts(const config::Config& config,
                               const std::shared_ptr<tls::TicketKeyRing>& ticket_keys);

// Keeps one ticket key ring across config applies (so tickets survive a config change) and
// replaces it only when the rotation period changes or tickets are turned off or on.
class TicketKeys {
 public:
  const std::shared_ptr<tls::TicketKeyRing>& for_config(const config::TlsSessions& sessions);

 private:
  std::shared_ptr<tls::TicketKeyRing> ring_;
  uint32_t period_s_ = 0;
};

}  // namespace pharos::core
