// Certificate material from the config, parsed and checked once on the control thread: a
// listener's or pool's certificate with its chain and key, CA bundles and CRLs. Every error
// names the config field (JSON pointer) it comes from.
#pragma once

#include <openssl/base.h>
#include <openssl/pool.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "engine/config/config_types.h"
#include "engine/tls/tls_error.h"

namespace pharos::tls {

enum class KeyType { kRsa, kEcdsa };

// A certificate chain and its private key, ready for SSL_set_chain_and_key. Immutable once
// loaded; shared by every connection that presents it.
struct CertifiedKey {
  std::vector<bssl::UniquePtr<CRYPTO_BUFFER>> chain;  // leaf first, then issuers
  bssl::UniquePtr<X509> leaf;
  bssl::UniquePtr<EVP_PKEY> private_key;
  KeyType key_type = KeyType::kRsa;
  int curve_nid = 0;                    // ECDSA only: NID of the key's curve
  std::vector<std::string> dns_names;   // SAN DNS names (or CN without SAN), lower case
  std::string path;                     // JSON pointer of the container
  std::string label;                    // "CN=...", for messages
};

// Parses `container`: PEM certificate (optionally followed by its chain), intermediates and
// private_key, or `file`, one PEM bundle with all of them in any order. The leaf is the
// certificate that matches the key; it must be valid at `now`.
TlsResult<std::shared_ptr<const CertifiedKey>> load_certified_key(
    const config::TlsContainer& container, time_t now = std::time(nullptr));

// The certificates of a PEM CA bundle (at least one).
TlsResult<std::vector<bssl::UniquePtr<X509>>> load_ca_certificates(const std::string& pem,
                                                                   const std::string& path);

// The CRLs of a PEM bundle (at least one), each issued and signed by one of `cas`.
TlsResult<std::vector<bssl::UniquePtr<X509_CRL>>> load_crls(
    const std::string& pem, const std::string& path,
    const std::vector<bssl::UniquePtr<X509>>& cas);

// A verification store holding `cas` and `crls`; with CRLs, leaf certificates are checked
// against them (a leaf whose issuer has no CRL then fails, as in HAProxy).
bssl::UniquePtr<X509_STORE> make_verify_store(const std::vector<bssl::UniquePtr<X509>>& cas,
                                              const std::vector<bssl::UniquePtr<X509_CRL>>& crls);

// A CA bundle with its optional CRLs, ready to verify peers.
struct TrustAnchors {
  bssl::UniquePtr<X509_STORE> store;
  bssl::UniquePtr<STACK_OF(X509_NAME)> ca_names;  // subjects, for CertificateRequest
};
TlsResult<TrustAnchors> load_trust_anchors(const std::string& ca_pem, const std::string& ca_path,
                                           const std::string& crl_pem,
                                           const std::string& crl_path);

}  // namespace pharos::tls
