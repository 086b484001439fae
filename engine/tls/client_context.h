// TLS towards members (pool re-encryption): verification against the pool's CA and CRL, the
// client certificate, versions, ciphers, ALPN, and session reuse per member. Built once per
// config apply on the control thread, shared by every worker.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/config/config_types.h"
#include "engine/tls/tls_error.h"

namespace pharos::tls {

class ClientTlsContext {
 public:
  // Parses the client certificate, CA and CRL of `tls`; errors name the config field.
  static TlsResult<std::shared_ptr<const ClientTlsContext>> create(const config::PoolTls& tls);

  // A client-mode connection. `server_name`: sent as SNI and checked against the member's
  // certificate when the pool has a CA (an IP literal is checked as an IP and not sent; empty:
  // the chain alone is verified). `session_key` (e.g. "10.0.0.5:443") names the member for
  // session reuse; empty: no reuse. Thread-safe.
  bssl::UniquePtr<SSL> new_connection(const std::string& server_name,
                                      const std::string& session_key = {}) const;

  bool verifies_members() const { return verifies_; }
  const std::vector<TlsError>& warnings() const { return warnings_; }
  SSL_CTX* ssl_ctx() const { return ctx_.get(); }

 private:
  ClientTlsContext() = default;

  bssl::UniquePtr<SSL_CTX> ctx_;
  bool verifies_ = false;
  std::vector<TlsError> warnings_;
};

}  // namespace pharos::tls
