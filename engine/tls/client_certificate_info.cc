#include "engine/tls/client_certificate_info.h"

#include <openssl/digest.h>
#include <openssl/nid.h>
#include <openssl/x509.h>

#include "engine/tls/x509_text.h"

namespace pharos::tls {

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
