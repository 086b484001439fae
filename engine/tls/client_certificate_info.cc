#include "engine/tls/client_certificate_info.h"

#include <openssl/digest.h>
#include <openssl/obj.h>
#include <strings.h>
#include <openssl/nid.h>
#include <openssl/x509.h>

#include "engine/tls/x509_text.h"

namespace pharos::tls {

namespace {

// One entry per attribute type in the subject, with the value of its first occurrence (what
// subject_field looks up). Attributes OpenSSL has no name for cannot be asked for by name.
std::vector<SubjectField> subject_fields(const X509_NAME* name) {
  std::vector<SubjectField> out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, i)));
    if (nid == NID_undef || OBJ_nid2sn(nid) == nullptr || OBJ_nid2ln(nid) == nullptr) continue;
    if (X509_NAME_get_index_by_NID(name, nid, -1) != i) continue;  // not the first occurrence
    out.push_back(SubjectField{OBJ_nid2sn(nid), OBJ_nid2ln(nid), name_entry_text(name, nid)});
  }
  return out;
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<std::string_view> ClientCertificateInfo::subject_field(std::string_view key) const {
  for (const auto& field : subject_fields) {
    if (same_name(field.short_name, key) || same_name(field.long_name, key)) return field.value;
  }
  return std::nullopt;
}

ClientCertificateInfo client_certificate_info(const SSL* ssl) {
  ClientCertificateInfo info;
  if (ssl == nullptr) return info;
  info.verify_result = SSL_get_verify_result(ssl);
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl));
  if (!cert) return info;
  info.has_certificate = true;
  const X509_NAME* subject = X509_get_subject_name(cert.get());
  info.subject_dn = distinguished_name_text(subject);
  info.subject_cn = name_entry_text(subject, NID_commonName);
  info.subject_fields = subject_fields(subject);
  info.issuer_dn = distinguished_name_text(X509_get_issuer_name(cert.get()));
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned digest_len = 0;
  if (X509_digest(cert.get(), EVP_sha1(), digest, &digest_len)) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    info.sha1_hex.reserve(2 * digest_len);
    for (unsigned i = 0; i < digest_len; ++i) {
      info.sha1_hex += kHex[digest[i] >> 4];
      info.sha1_hex += kHex[digest[i] & 0xf];
    }
  }
  info.not_before = haproxy_time_text(X509_get0_notBefore(cert.get()));
  info.not_after = haproxy_time_text(X509_get0_notAfter(cert.get()));
  return info;
}

std::string_view negotiated_alpn(const SSL* ssl) {
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  if (data == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(data), len);
}

std::string_view client_server_name(const SSL* ssl) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

}  // namespace pharos::tls
