// Connection details for Octavia's X-SSL-Client-* headers and for logs, formatted as the HAProxy
// fetches Octavia's template uses (ssl_c_verify, ssl_c_used, ssl_c_s_dn, ssl_c_s_dn(cn),
// ssl_c_i_dn, ssl_c_sha1,hex, ssl_c_notbefore, ssl_c_notafter). Header quoting (%{+Q}) is the
// HTTP layer's business.
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pharos::tls {

// An attribute of a certificate's subject: its short and long names ("CN", "commonName") and
// the value of its first occurrence, as text.
struct SubjectField {
  std::string short_name;
  std::string long_name;
  std::string value;
};

struct ClientCertificateInfo {
  bool has_certificate = false;  // X-SSL-Client-Has-Cert (ssl_c_used): "1" / "0"
  long verify_result = 0;        // X-SSL-Client-Verify (ssl_c_verify): 0 = OK, else X509_V_ERR_*
  std::string subject_dn;        // X-SSL-Client-DN: "/O=Example/CN=client"
  std::string subject_cn;        // X-SSL-Client-CN: first CN of the subject
  std::string issuer_dn;         // X-SSL-Issuer
  std::string sha1_hex;          // X-SSL-Client-SHA1: upper-case hex of the DER's SHA-1
  std::string not_before;        // X-SSL-Client-Not-Before: YYMMDDhhmmssZ
  std::string not_after;         // X-SSL-Client-Not-After: YYMMDDhhmmssZ
  std::vector<SubjectField> subject_fields;  // one per attribute type, for L7 SSL_DN_FIELD rules

  // The value of the first subject entry named `key` by its short or long name, compared
  // case-insensitively (HAProxy's ssl_c_s_dn(key)); nullopt when there is none.
  std::optional<std::string_view> subject_field(std::string_view key) const;
};

// What the client presented on an established server-side connection (also after resumption).
ClientCertificateInfo client_certificate_info(const SSL* ssl);

// The protocol ALPN selected ("h2", "http/1.1"); empty when none. Valid while `ssl` lives.
std::string_view negotiated_alpn(const SSL* ssl);

// The host name the client sent in SNI; empty when none.
std::string_view client_server_name(const SSL* ssl);

}  // namespace pharos::tls
