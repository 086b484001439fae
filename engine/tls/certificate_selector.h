// Picks the certificate a connection presents: by SNI (exact names over wildcards, from the
// certificates' SAN DNS names), then ECDSA or RSA by what the client can verify; the default
// certificate when no name matches.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tls/certificate_material.h"
#include "engine/tls/client_key_support.h"

namespace pharos::tls {

class CertificateSelector {
 public:
  // `default_key` answers unmatched names; it and the SNI keys also serve their own names. When
  // two certificates of one key type claim a name, the first given wins.
  CertificateSelector(std::shared_ptr<const CertifiedKey> default_key,
                      const std::vector<std::shared_ptr<const CertifiedKey>>& sni_keys);

  // Never null. `server_name` is the client's SNI (any case), empty when none was sent.
  const CertifiedKey* select(std::string_view server_name, const ClientKeySupport& client) const;

 private:
  struct Pair {
    std::shared_ptr<const CertifiedKey> ecdsa;
    std::shared_ptr<const CertifiedKey> rsa;
  };
  static void offer(Pair& pair, const std::shared_ptr<const CertifiedKey>& key);
  static const CertifiedKey* choose(const Pair& pair, const ClientKeySupport& client);
  const Pair* find(std::string_view server_name) const;

  Pair default_;
  std::unordered_map<std::string, Pair> exact_;
  std::unordered_map<std::string, Pair> wildcard_;  // "*.example.com" filed under "example.com"
};

}  // namespace pharos::tls
