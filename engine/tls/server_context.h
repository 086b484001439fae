// The TLS side of one TERMINATED_HTTPS listener: certificates (default + SNI, ECDSA and RSA side
// by side), versions, ciphers, ALPN, client authentication, session cache and tickets. Built
// once per config apply on the control thread, then shared read-only by every worker.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/config/config_types.h"
#include "engine/tls/ticket_key_ring.h"
#include "engine/tls/tls_error.h"

namespace pharos::tls {

class ServerTlsContext {
 public:
  // Parses and checks every certificate, CA and CRL of `tls`; errors name the config field.
  // `ticket_keys` null (or sessions.ticket_key_rotation_s 0) disables tickets.
  static TlsResult<std::shared_ptr<const ServerTlsContext>> create(
      const config::ListenerTls& tls, const config::TlsSessions& sessions,
      std::shared_ptr<TicketKeyRing> ticket_keys);

  // A server-mode connection; the certificate is chosen during its handshake. Thread-safe.
  bssl::UniquePtr<SSL> new_connection() const;

  // Non-fatal findings for the operator log (e.g. cipher names BoringSSL skips).
  const std::vector<TlsError>& warnings() const { return warnings_; }

  SSL_CTX* ssl_ctx() const { return ctx_.get(); }

 private:
  ServerTlsContext() = default;

  bssl::UniquePtr<SSL_CTX> ctx_;
  std::vector<TlsError> warnings_;
};

}  // namespace pharos::tls
