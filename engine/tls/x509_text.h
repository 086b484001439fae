// Text drawn from X.509 certificates: names for SNI matching and for messages, distinguished
// names and times in the forms HAProxy gives Octavia's X-SSL-* headers.
#pragma once

#include <openssl/x509.h>

#include <string>
#include <vector>

namespace pharos::tls {

// The DNS names a certificate serves, lower-cased: its subjectAltName dNSName entries, or its
// subject CN when it has no subjectAltName extension at all.
std::vector<std::string> certificate_dns_names(const X509* cert);

// "/O=Example/CN=www.example.com": each entry as short name=value, in order (HAProxy's ssl_c_s_dn
// and ssl_c_i_dn without an entry argument).
std::string distinguished_name_text(const X509_NAME* name);

// The value of the first entry with `nid` (HAProxy's ssl_c_s_dn(cn)); empty when absent.
std::string name_entry_text(const X509_NAME* name, int nid);

// "CN=www.example.com" or the one-line DN when there is no CN, for operator messages.
std::string certificate_label(const X509* cert);

// "2024-05-01 12:00:00 UTC", for operator messages.
std::string time_text(const ASN1_TIME* time);

// YYMMDDhhmmssZ as HAProxy's ssl_c_notbefore / ssl_c_notafter give it (GeneralizedTime loses its
// century, as in HAProxy).
std::string haproxy_time_text(const ASN1_TIME* time);

}  // namespace pharos::tls
