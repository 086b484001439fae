// Protocol parameters shared by the server and client contexts: version range, cipher string,
// ALPN list. Each applies one config field to an SSL_CTX or says which field is wrong.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tls/tls_error.h"

namespace pharos::tls {

// Forward-secret AEAD suites only (TLS 1.2; TLS 1.3 suites are fixed in BoringSSL).
extern const char kDefaultCipherList[];

struct VersionRange {
  uint16_t min = 0;  // TLS1_VERSION ... TLS1_3_VERSION
  uint16_t max = 0;
};

// config::TlsVersion bits as a range. BoringSSL can only express a contiguous range, so a set
// with a gap (TLSv1 + TLSv1.2 without TLSv1.1) is refused rather than silently widened.
TlsResult<VersionRange> version_range(uint8_t versions, const std::string& path);

TlsStatus apply_versions(SSL_CTX* ctx, uint8_t versions, const std::string& path);

// Applies an OpenSSL-syntax cipher string (empty: kDefaultCipherList). Names BoringSSL does not
// know (the DHE suites of Octavia's default cipher string) are skipped and returned so the
// caller can report them; a string that leaves no usable cipher is an error.
TlsResult<std::vector<std::string>> apply_ciphers(SSL_CTX* ctx, const std::string& ciphers,
                                                  const std::string& path);

// tls_versions and tls_ciphers of the listener or pool at `object_path` (fields
// object_path/tls_versions and object_path/tls_ciphers); skipped cipher names become warnings.
TlsStatus apply_versions_and_ciphers(SSL_CTX* ctx, uint8_t versions, const std::string& ciphers,
                                     const std::string& object_path, std::vector<TlsError>* warnings);

// ALPN protocol names in wire form (each prefixed by its length).
TlsResult<std::vector<uint8_t>> alpn_wire(const std::vector<std::string>& protocols,
                                          const std::string& path);

}  // namespace pharos::tls
