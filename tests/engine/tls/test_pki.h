// A tiny PKI generated at test time with BoringSSL's X509 APIs: CAs, server certificates (RSA
// and ECDSA, SANs including a wildcard), client certificates (good, unknown CA, revoked), a CRL,
// and certificates outside their validity. Everything is PEM text, as the engine config carries.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/config_types.h"

namespace pharos::tls::test {

enum class KeyKind { kRsa, kEcdsa, kEd25519 };

// One certificate with its key, as PEM.
struct Credential {
  std::string certificate_pem;
  std::string private_key_pem;  // PKCS#8 "PRIVATE KEY"
  uint64_t serial = 0;
};

struct CertificateSpec {
  std::string common_name = {};
  std::vector<std::string> dns_names = {};  // subjectAltName DNS entries; empty: no SAN
  KeyKind key = KeyKind::kEcdsa;
  bool is_ca = false;
  int64_t not_before_s = -3600;       // relative to now
  int64_t not_after_s = 30 * 86400;   // relative to now
};

// Issues a certificate signed by `issuer` (self-signed when null). Aborts on failure.
Credential issue(const CertificateSpec& spec, const Credential* issuer);

// A PEM X509 CRL signed by `ca` that revokes `revoked_serials`.
std::string make_crl(const Credential& ca, const std::vector<uint64_t>& revoked_serials);

// The shared test PKI, generated once per process.
struct TestPki {
  Credential ca;            // "Pharos Test CA" (ECDSA)
  Credential other_ca;      // "Pharos Other CA": signs client_unknown_ca
  Credential intermediate;  // "Pharos Test Intermediate", signed by ca

  // www.example.com + example.com, one per key type, signed by ca.
  Credential server_rsa;
  Credential server_ecdsa;
  Credential wildcard_ecdsa;      // *.apps.example.com
  Credential other_ecdsa;         // api.example.net
  Credential cn_only_ecdsa;       // no SAN, CN legacy.example.com
  Credential chained_ecdsa;       // chain.example.com, signed by intermediate
  Credential expired_ecdsa;       // www.example.com, notAfter an hour ago
  Credential not_yet_valid_ecdsa; // www.example.com, notBefore in a day

  Credential client_good;        // CN client-good, signed by ca
  Credential client_unknown_ca;  // CN client-stranger, signed by other_ca
  Credential client_revoked;     // CN client-revoked, signed by ca, revoked by crl
  std::string crl;               // by ca, revokes client_revoked
};
const TestPki& test_pki();

// A config container holding `credential` (certificate + key PEM), with JSON pointer `path`.
config::TlsContainer container(const Credential& credential, const std::string& path);

// Parse helpers for test clients.
bssl::UniquePtr<X509> load_certificate(const std::string& pem);  // the first certificate
bssl::UniquePtr<EVP_PKEY> load_private_key(const std::string& pem);

}  // namespace pharos::tls::test
