#include "engine/tls/certificate_selector.h"

#include "engine/http/ascii_case.h"

namespace pharos::tls {
namespace {

std::string normalize(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return http::ascii_lowercase(name);
}

}  // namespace

void CertificateSelector::offer(Pair& pair, const std::shared_ptr<const CertifiedKey>& key) {
  auto& slot = key->key_type == KeyType::kEcdsa ? pair.ecdsa : pair.rsa;
  if (!slot) slot = key;
}

CertificateSelector::CertificateSelector(
    std::shared_ptr<const CertifiedKey> default_key,
    const std::vector<std::shared_ptr<const CertifiedKey>>& sni_keys) {
  std::vector<std::shared_ptr<const CertifiedKey>> all{default_key};
  all.insert(all.end(), sni_keys.begin(), sni_keys.end());
  for (const auto& key : all) {
    for (const auto& name : key->dns_names) {
      if (name.size() > 2 && name.compare(0, 2, "*.") == 0) {
        offer(wildcard_[name.substr(2)], key);
      } else if (name.find('*') == std::string::npos) {
        offer(exact_[normalize(name)], key);
      }
    }
  }
  // The default also pairs with a certificate of the other key type for its own first name, so
  // clients without SNI get ECDSA or RSA as they can.
  offer(default_, default_key);
  if (!default_key->dns_names.empty()) {
    if (const Pair* same_name = find(default_key->dns_names.front())) {
      if (same_name->ecdsa) offer(default_, same_name->ecdsa);
      if (same_name->rsa) offer(default_, same_name->rsa);
    }
  }
}

const CertificateSelector::Pair* CertificateSelector::find(std::string_view server_name) const {
  if (server_name.empty()) return nullptr;
  const std::string name = normalize(server_name);
  if (auto it = exact_.find(name); it != exact_.end()) return &it->second;
  const size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return nullptr;
  if (auto it = wildcard_.find(name.substr(dot + 1)); it != wildcard_.end()) return &it->second;
  return nullptr;
}

const CertifiedKey* CertificateSelector::choose(const Pair& pair, const ClientKeySupport& client) {
  // ECDSA first: smaller and faster when the client can take it.
  if (pair.ecdsa && client.accepts(*pair.ecdsa)) return pair.ecdsa.get();
  if (pair.rsa && client.accepts(*pair.rsa)) return pair.rsa.get();
  // Neither fits: present what there is and let the handshake say no.
  return pair.ecdsa ? pair.ecdsa.get() : pair.rsa.get();
}

const CertifiedKey* CertificateSelector::select(std::string_view server_name,
                                                const ClientKeySupport& client) const {
  if (const Pair* pair = find(server_name)) return choose(*pair, client);
  return choose(default_, client);
}

}  // namespace pharos::tls
