// What a ClientHello says about the certificates the client can verify, read in the early
// select-certificate callback so the server can present ECDSA or RSA for the same name.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <vector>

namespace pharos::tls {

struct CertifiedKey;

// The TLS 1.2-and-below suites the server enabled, by the authentication they need.
struct ServerSuites {
  std::vector<uint16_t> ecdsa;  // IANA ids of ECDSA-authenticated suites
  std::vector<uint16_t> rsa;    // IANA ids of RSA-authenticated suites
  uint16_t max_version = TLS1_3_VERSION;

  static ServerSuites of(const SSL_CTX* ctx, uint16_t max_version);
};

// Which certificate key types the client can be served.
struct ClientKeySupport {
  bool rsa = true;
  bool ecdsa_p256 = true;
  bool ecdsa_p384 = true;
  bool ecdsa_p521 = true;

  bool accepts(const CertifiedKey& key) const;
};

// Reads signature_algorithms, supported_versions and the cipher suites of `hello` against what
// the server enabled. Unparseable extensions count as "supports everything": BoringSSL itself
// rejects a broken ClientHello right after.
ClientKeySupport read_client_key_support(const SSL_CLIENT_HELLO* hello, const ServerSuites& server);

}  // namespace pharos::tls
