#include "engine/tls/certificate_material.h"

#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/tls/boringssl_error.h"
#include "engine/tls/pem_reader.h"
#include "engine/tls/x509_text.h"

namespace pharos::tls {
namespace {

constexpr size_t kMaxBundleBytes = 16 * 1024 * 1024;

// A PEM block together with the config field it came from.
struct SourcedBlock {
  PemBlock block;
  std::string path;
};

TlsResult<std::string> read_file(const std::string& file, const std::string& path) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return TlsError{path, "cannot read " + file + ": " + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return TlsError{path, "cannot read " + file + ": " + std::strerror(errno)};
  std::string out = text.str();
  if (out.size() > kMaxBundleBytes) return TlsError{path, file + " is larger than 16 MiB"};
  return out;
}

TlsStatus append_blocks(std::string_view text, const std::string& path,
                        std::vector<SourcedBlock>& out) {
  auto blocks = read_pem_blocks(text, path);
  if (!blocks) return blocks.error();
  for (auto& block : blocks.value()) out.push_back(SourcedBlock{std::move(block), path});
  return Done{};
}

bssl::UniquePtr<X509> parse_certificate(const std::vector<uint8_t>& der) {
  const uint8_t* p = der.data();
  return bssl::UniquePtr<X509>(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

// Key type and curve, or an error for what TLS in this engine cannot use.
TlsStatus classify_key(const EVP_PKEY* key, const std::string& path, CertifiedKey& out) {
  switch (EVP_PKEY_id(key)) {
    case EVP_PKEY_RSA:
      if (EVP_PKEY_bits(key) < 2048) {
        return TlsError{path, "RSA key of " + std::to_string(EVP_PKEY_bits(key)) +
                                  " bits is too weak: use 2048 bits or more"};
      }
      out.key_type = KeyType::kRsa;
      return Done{};
    case EVP_PKEY_EC: {
      const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(const_cast<EVP_PKEY*>(key));
      const int nid = EC_GROUP_get_curve_name(EC_KEY_get0_group(ec));
      if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 && nid != NID_secp521r1) {
        return TlsError{path, "unsupported ECDSA curve: use P-256, P-384 or P-521"};
      }
      out.key_type = KeyType::kEcdsa;
      out.curve_nid = nid;
      return Done{};
    }
    default:
      return TlsError{path, "unsupported private key type: use RSA or ECDSA"};
  }
}

// Orders `certs` from the leaf up: each next certificate is the issuer of the previous one;
// certificates that fit nowhere keep their given order at the end.
std::vector<size_t> chain_order(const std::vector<bssl::UniquePtr<X509>>& certs, size_t leaf) {
  std::vector<size_t> order{leaf};
  std::vector<bool> used(certs.size(), false);
  used[leaf] = true;
  for (;;) {
    X509* last = certs[order.back()].get();
    if (X509_check_issued(last, last) == X509_V_OK) break;  // self-signed: top reached
    bool found = false;
    for (size_t i = 0; i < certs.size() && !found; ++i) {
      if (!used[i] && X509_check_issued(certs[i].get(), last) == X509_V_OK) {
        used[i] = true;
        order.push_back(i);
        found = true;
      }
    }
    if (!found) break;
  }
  for (size_t i = 0; i < certs.size(); ++i) {
    if (!used[i]) order.push_back(i);
  }
  return order;
}

TlsStatus check_validity(const X509* leaf, const std::string& path, time_t now) {
  if (X509_cmp_time(X509_get0_notAfter(leaf), &now) < 0) {
    return TlsError{path, "certificate " + certificate_label(leaf) + " expired on " +
                              time_text(X509_get0_notAfter(leaf))};
  }
  if (X509_cmp_time(X509_get0_notBefore(leaf), &now) > 0) {
    return TlsError{path, "certificate " + certificate_label(leaf) + " is not valid before " +
                              time_text(X509_get0_notBefore(leaf))};
  }
  return Done{};
}

}  // namespace

TlsResult<std::shared_ptr<const CertifiedKey>> load_certified_key(
    const config::TlsContainer& container, time_t now) {
  std::vector<SourcedBlock> blocks;
  const bool from_file = !container.file.empty();
  const std::string file_path = container.path + "/file";
  const std::string certificate_path = from_file ? file_path : container.path + "/certificate";
  const std::string key_path = from_file ? file_path : container.path + "/private_key";
  if (from_file) {
    auto text = read_file(container.file, file_path);
    if (!text) return text.error();
    if (auto s = append_blocks(text.value(), file_path, blocks); !s) return s.error();
  } else {
    if (container.certificate.empty()) return TlsError{certificate_path, "no certificate given"};
    if (auto s = append_blocks(container.certificate, certificate_path, blocks); !s) {
      return s.error();
    }
    for (size_t i = 0; i < container.intermediates.size(); ++i) {
      const std::string path = container.path + "/intermediates/" + std::to_string(i);
      if (auto s = append_blocks(container.intermediates[i], path, blocks); !s) return s.error();
    }
    if (container.private_key.empty()) return TlsError{key_path, "no private key given"};
    if (auto s = append_blocks(container.private_key, key_path, blocks); !s) return s.error();
  }

  std::vector<bssl::UniquePtr<X509>> certs;
  std::vector<std::vector<uint8_t>> ders;
  bssl::UniquePtr<EVP_PKEY> key;
  std::string found_key_path;
  for (auto& sourced : blocks) {
    const PemBlock& block = sourced.block;
    if (is_certificate_label(block.label)) {
      auto cert = parse_certificate(block.der);
      if (!cert) {
        return TlsError{sourced.path, "unreadable certificate: " + take_boringssl_errors()};
      }
      certs.push_back(std::move(cert));
      ders.push_back(block.der);
    } else if (is_private_key_label(block.label)) {
      if (key) return TlsError{sourced.path, "more than one private key"};
      const uint8_t* p = block.der.data();
      key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(block.der.size())));
      if (!key) {
        return TlsError{sourced.path, "unreadable private key: " + take_boringssl_errors()};
      }
      found_key_path = sourced.path;
    } else {
      return TlsError{sourced.path, "unexpected PEM block \"" + block.label +
                                        "\" (expected certificates and one private key)"};
    }
  }
  if (certs.empty()) return TlsError{certificate_path, "no certificate found in the PEM text"};
  if (!key) return TlsError{key_path, "no private key found"};

  auto out = std::make_shared<CertifiedKey>();
  out->path = container.path;
  if (auto s = classify_key(key.get(), found_key_path, *out); !s) return s.error();

  size_t leaf = certs.size();
  for (size_t i = 0; i < certs.size() && leaf == certs.size(); ++i) {
    if (X509_check_private_key(certs[i].get(), key.get())) leaf = i;
  }
  clear_boringssl_errors();  // mismatches above queue errors
  if (leaf == certs.size()) {
    return TlsError{found_key_path, "private key does not match the certificate " +
                                        certificate_label(certs.front().get())};
  }
  if (auto s = check_validity(certs[leaf].get(), certificate_path, now); !s) return s.error();

  for (size_t i : chain_order(certs, leaf)) {
    bssl::UniquePtr<CRYPTO_BUFFER> buffer(
        CRYPTO_BUFFER_new(ders[i].data(), ders[i].size(), nullptr));
    if (!buffer) return TlsError{certificate_path, "out of memory"};
    out->chain.push_back(std::move(buffer));
  }
  out->leaf = std::move(certs[leaf]);
  out->private_key = std::move(key);
  out->dns_names = certificate_dns_names(out->leaf.get());
  out->label = certificate_label(out->leaf.get());
  return std::shared_ptr<const CertifiedKey>(std::move(out));
}

TlsResult<std::vector<bssl::UniquePtr<X509>>> load_ca_certificates(const std::string& pem,
                                                                   const std::string& path) {
  auto blocks = read_pem_blocks(pem, path);
  if (!blocks) return blocks.error();
  std::vector<bssl::UniquePtr<X509>> cas;
  for (const auto& block : blocks.value()) {
    if (!is_certificate_label(block.label)) {
      return TlsError{path, "unexpected PEM block \"" + block.label +
                                "\" (expected CA certificates)"};
    }
    auto cert = parse_certificate(block.der);
    if (!cert) return TlsError{path, "unreadable CA certificate: " + take_boringssl_errors()};
    cas.push_back(std::move(cert));
  }
  return cas;
}

TlsResult<std::vector<bssl::UniquePtr<X509_CRL>>> load_crls(
    const std::string& pem, const std::string& path,
    const std::vector<bssl::UniquePtr<X509>>& cas) {
  auto blocks = read_pem_blocks(pem, path);
  if (!blocks) return blocks.error();
  std::vector<bssl::UniquePtr<X509_CRL>> crls;
  for (const auto& block : blocks.value()) {
    if (!is_crl_label(block.label)) {
      return TlsError{path, "unexpected PEM block \"" + block.label + "\" (expected X509 CRL)"};
    }
    const uint8_t* p = block.der.data();
    bssl::UniquePtr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(block.der.size())));
    if (!crl) return TlsError{path, "unreadable CRL: " + take_boringssl_errors()};
    const X509* issuer = nullptr;
    for (const auto& ca : cas) {
      if (X509_NAME_cmp(X509_get_subject_name(ca.get()), X509_CRL_get_issuer(crl.get())) == 0) {
        issuer = ca.get();
        break;
      }
    }
    const std::string issuer_dn = distinguished_name_text(X509_CRL_get_issuer(crl.get()));
    if (issuer == nullptr) {
      return TlsError{path, "CRL issued by " + issuer_dn + " matches no CA certificate"};
    }
    bssl::UniquePtr<EVP_PKEY> issuer_key(X509_get_pubkey(const_cast<X509*>(issuer)));
    if (!issuer_key || X509_CRL_verify(crl.get(), issuer_key.get()) != 1) {
      clear_boringssl_errors();
      return TlsError{path, "CRL issued by " + issuer_dn + " has a bad signature"};
    }
    crls.push_back(std::move(crl));
  }
  return crls;
}

bssl::UniquePtr<X509_STORE> make_verify_store(const std::vector<bssl::UniquePtr<X509>>& cas,
                                              const std::vector<bssl::UniquePtr<X509_CRL>>& crls) {
  bssl::UniquePtr<X509_STORE> store(X509_STORE_new());
  for (const auto& ca : cas) X509_STORE_add_cert(store.get(), ca.get());
  for (const auto& crl : crls) X509_STORE_add_crl(store.get(), crl.get());
  if (!crls.empty()) X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  clear_boringssl_errors();  // duplicate certificates in a bundle are not an error
  return store;
}

TlsResult<TrustAnchors> load_trust_anchors(const std::string& ca_pem, const std::string& ca_path,
                                           const std::string& crl_pem,
                                           const std::string& crl_path) {
  auto cas = load_ca_certificates(ca_pem, ca_path);
  if (!cas) return cas.error();
  std::vector<bssl::UniquePtr<X509_CRL>> crls;
  if (!crl_pem.empty()) {
    auto loaded = load_crls(crl_pem, crl_path, cas.value());
    if (!loaded) return loaded.error();
    crls = std::move(loaded.value());
  }
  TrustAnchors trust;
  trust.store = make_verify_store(cas.value(), crls);
  trust.ca_names.reset(sk_X509_NAME_new_null());
  for (const auto& ca : cas.value()) {
    X509_NAME* name = X509_NAME_dup(X509_get_subject_name(ca.get()));
    if (name != nullptr && !sk_X509_NAME_push(trust.ca_names.get(), name)) X509_NAME_free(name);
  }
  return trust;
}

}  // namespace pharos::tls
