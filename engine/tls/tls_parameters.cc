#include "engine/tls/tls_parameters.h"

#include "engine/config/config_types.h"
#include "engine/tls/boringssl_error.h"

namespace pharos::tls {
namespace {

struct VersionBit {
  uint8_t bit;
  uint16_t version;
  const char* name;
};
constexpr VersionBit kVersions[] = {
    {config::kTls10, TLS1_VERSION, "TLSv1"},
    {config::kTls11, TLS1_1_VERSION, "TLSv1.1"},
    {config::kTls12, TLS1_2_VERSION, "TLSv1.2"},
    {config::kTls13, TLS1_3_VERSION, "TLSv1.3"},
};

std::vector<std::string> split_cipher_string(const std::string& s) {
  std::vector<std::string> tokens;
  std::string token;
  for (char c : s) {
    if (c == ':' || c == ',' || c == ' ') {
      if (!token.empty()) tokens.push_back(std::move(token));
      token.clear();
    } else {
      token += c;
    }
  }
  if (!token.empty()) tokens.push_back(std::move(token));
  return tokens;
}

}  // namespace

const char kDefaultCipherList[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

TlsResult<VersionRange> version_range(uint8_t versions, const std::string& path) {
  int first = -1;
  int last = -1;
  for (int i = 0; i < 4; ++i) {
    if (versions & kVersions[i].bit) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) return TlsError{path, "no TLS version enabled"};
  for (int i = first; i <= last; ++i) {
    if (!(versions & kVersions[i].bit)) {
      return TlsError{path, std::string(kVersions[first].name) + " and " + kVersions[last].name +
                                " without " + kVersions[i].name +
                                ": the engine supports only a contiguous range of versions"};
    }
  }
  return VersionRange{kVersions[first].version, kVersions[last].version};
}

TlsStatus apply_versions(SSL_CTX* ctx, uint8_t versions, const std::string& path) {
  auto range = version_range(versions, path);
  if (!range) return range.error();
  if (!SSL_CTX_set_min_proto_version(ctx, range->min) ||
      !SSL_CTX_set_max_proto_version(ctx, range->max)) {
    return TlsError{path, "BoringSSL refused the version range: " + take_boringssl_errors()};
  }
  return Done{};
}

TlsResult<std::vector<std::string>> apply_ciphers(SSL_CTX* ctx, const std::string& ciphers,
                                                  const std::string& path) {
  const std::string& list = ciphers.empty() ? std::string(kDefaultCipherList) : ciphers;
  clear_boringssl_errors();
  if (SSL_CTX_set_strict_cipher_list(ctx, list.c_str())) return std::vector<std::string>{};
  clear_boringssl_errors();
  if (!SSL_CTX_set_cipher_list(ctx, list.c_str())) {
    return TlsError{path, "no usable cipher in \"" + list + "\" (" + take_boringssl_errors() +
                              "); TLS 1.3 suites are fixed and cannot be listed here"};
  }
  // Find which names were skipped, each tried after a known-good prefix.
  std::vector<std::string> ignored;
  bssl::UniquePtr<SSL_CTX> scratch(SSL_CTX_new(TLS_method()));
  for (const auto& token : split_cipher_string(list)) {
    if (!SSL_CTX_set_strict_cipher_list(scratch.get(), ("ALL:" + token).c_str())) {
      ignored.push_back(token);
    }
  }
  clear_boringssl_errors();
  return ignored;
}

TlsResult<std::vector<uint8_t>> alpn_wire(const std::vector<std::string>& protocols,
                                          const std::string& path) {
  std::vector<uint8_t> wire;
  for (const auto& protocol : protocols) {
    if (protocol.empty() || protocol.size() > 255) {
      return TlsError{path, "ALPN protocol names must be 1 to 255 bytes"};
    }
    wire.push_back(static_cast<uint8_t>(protocol.size()));
    wire.insert(wire.end(), protocol.begin(), protocol.end());
  }
  return wire;
}

TlsStatus apply_versions_and_ciphers(SSL_CTX* ctx, uint8_t versions, const std::string& ciphers,
                                     const std::string& object_path, std::vector<TlsError>* warnings) {
  if (auto s = apply_versions(ctx, versions, object_path + "/tls_versions"); !s) return s.error();
  const std::string ciphers_path = object_path + "/tls_ciphers";
  auto ignored = apply_ciphers(ctx, ciphers, ciphers_path);
  if (!ignored) return ignored.error();
  for (const auto& name : ignored.value()) {
    warnings->push_back(
        TlsError{ciphers_path, "cipher \"" + name + "\" is unknown to BoringSSL and skipped"});
  }
  return Done{};
}

}  // namespace pharos::tls
