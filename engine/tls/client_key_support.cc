#include "engine/tls/client_key_support.h"

#include <openssl/bytestring.h>
#include <openssl/nid.h>

#include <algorithm>

#include "engine/tls/certificate_material.h"

namespace pharos::tls {
namespace {

constexpr uint16_t kExtSignatureAlgorithms = 13;
constexpr uint16_t kExtSupportedVersions = 43;

// SignatureScheme values (RFC 8446 4.2.3).
constexpr uint16_t kEcdsaP256Sha256 = 0x0403;
constexpr uint16_t kEcdsaP384Sha384 = 0x0503;
constexpr uint16_t kEcdsaP521Sha512 = 0x0603;
constexpr uint16_t kEcdsaSha1 = 0x0203;
constexpr uint16_t kRsaPkcs1Sha1 = 0x0201;
constexpr uint16_t kRsaPkcs1Sha256 = 0x0401;
constexpr uint16_t kRsaPkcs1Sha384 = 0x0501;
constexpr uint16_t kRsaPkcs1Sha512 = 0x0601;
constexpr uint16_t kRsaPssRsaeSha256 = 0x0804;
constexpr uint16_t kRsaPssRsaeSha384 = 0x0805;
constexpr uint16_t kRsaPssRsaeSha512 = 0x0806;

bool read_u16_list(CBS* outer, std::vector<uint16_t>& out, bool u8_length) {
  CBS list;
  if (u8_length ? !CBS_get_u8_length_prefixed(outer, &list)
                : !CBS_get_u16_length_prefixed(outer, &list)) {
    return false;
  }
  while (CBS_len(&list) > 0) {
    uint16_t v = 0;
    if (!CBS_get_u16(&list, &v)) return false;
    out.push_back(v);
  }
  return true;
}

bool contains(const std::vector<uint16_t>& v, uint16_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool any_common(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  for (uint16_t x : a) {
    if (contains(b, x)) return true;
  }
  return false;
}

}  // namespace

ServerSuites ServerSuites::of(const SSL_CTX* ctx, uint16_t max_version) {
  ServerSuites suites;
  suites.max_version = max_version;
  const STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx);
  for (size_t i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
    const uint16_t id = SSL_CIPHER_get_protocol_id(cipher);
    switch (SSL_CIPHER_get_auth_nid(cipher)) {
      case NID_auth_ecdsa: suites.ecdsa.push_back(id); break;
      case NID_auth_rsa: suites.rsa.push_back(id); break;
      default: break;
    }
  }
  return suites;
}

bool ClientKeySupport::accepts(const CertifiedKey& key) const {
  if (key.key_type == KeyType::kRsa) return rsa;
  switch (key.curve_nid) {
    case NID_X9_62_prime256v1: return ecdsa_p256;
    case NID_secp384r1: return ecdsa_p384;
    case NID_secp521r1: return ecdsa_p521;
    default: return false;
  }
}

ClientKeySupport read_client_key_support(const SSL_CLIENT_HELLO* hello,
                                         const ServerSuites& server) {
  ClientKeySupport support;

  bool tls13 = false;
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (server.max_version >= TLS1_3_VERSION &&
      SSL_early_callback_ctx_extension_get(hello, kExtSupportedVersions, &data, &len)) {
    CBS ext;
    CBS_init(&ext, data, len);
    std::vector<uint16_t> versions;
    if (read_u16_list(&ext, versions, /*u8_length=*/true)) {
      tls13 = contains(versions, TLS1_3_VERSION);
    }
  }

  std::vector<uint16_t> sigalgs;
  bool have_sigalgs = false;
  if (SSL_early_callback_ctx_extension_get(hello, kExtSignatureAlgorithms, &data, &len)) {
    CBS ext;
    CBS_init(&ext, data, len);
    have_sigalgs = read_u16_list(&ext, sigalgs, /*u8_length=*/false);
  }

  if (tls13) {
    // The cipher suite says nothing about authentication; signature schemes bind the curve.
    if (!have_sigalgs) return support;
    support.ecdsa_p256 = contains(sigalgs, kEcdsaP256Sha256);
    support.ecdsa_p384 = contains(sigalgs, kEcdsaP384Sha384);
    support.ecdsa_p521 = contains(sigalgs, kEcdsaP521Sha512);
    support.rsa = contains(sigalgs, kRsaPssRsaeSha256) || contains(sigalgs, kRsaPssRsaeSha384) ||
                  contains(sigalgs, kRsaPssRsaeSha512);
    return support;
  }

  // TLS 1.2 and below: a suite both sides enable must use the key type, and (1.2) a signature
  // scheme of that type must be offered; ECDSA schemes name only the hash there.
  std::vector<uint16_t> client_suites;
  CBS suites;
  CBS_init(&suites, hello->cipher_suites, hello->cipher_suites_len);
  while (CBS_len(&suites) >= 2) {
    uint16_t id = 0;
    CBS_get_u16(&suites, &id);
    client_suites.push_back(id);
  }
  bool ecdsa = any_common(client_suites, server.ecdsa);
  bool rsa = any_common(client_suites, server.rsa);
  if (have_sigalgs) {
    ecdsa = ecdsa && (contains(sigalgs, kEcdsaP256Sha256) || contains(sigalgs, kEcdsaP384Sha384) ||
                      contains(sigalgs, kEcdsaP521Sha512) || contains(sigalgs, kEcdsaSha1));
    rsa = rsa && (contains(sigalgs, kRsaPkcs1Sha256) || contains(sigalgs, kRsaPkcs1Sha384) ||
                  contains(sigalgs, kRsaPkcs1Sha512) || contains(sigalgs, kRsaPkcs1Sha1) ||
                  contains(sigalgs, kRsaPssRsaeSha256) || contains(sigalgs, kRsaPssRsaeSha384) ||
                  contains(sigalgs, kRsaPssRsaeSha512));
  }
  support.rsa = rsa;
  support.ecdsa_p256 = support.ecdsa_p384 = support.ecdsa_p521 = ecdsa;
  return support;
}

}  // namespace pharos::tls
