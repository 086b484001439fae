#include "engine/tls/x509_text.h"

#include <openssl/asn1.h>
#include <openssl/nid.h>
#include <openssl/obj.h>
#include <openssl/mem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>

#include "engine/http/ascii_case.h"

namespace pharos::tls {
namespace {

std::string asn1_string_text(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  // UTF-8 for every string type, so BMPString and friends read as text.
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

std::vector<std::string> certificate_dns_names(const X509* cert) {
  std::vector<std::string> names;
  int critical = 0;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr));
  if (sans != nullptr) {
    for (size_t i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type != GEN_DNS) continue;
      std::string name = http::ascii_lowercase(asn1_string_text(gn->d.dNSName));
      if (!name.empty()) names.push_back(std::move(name));
    }
    GENERAL_NAMES_free(sans);
    return names;
  }
  // critical == -1: no such extension; anything else with a null result is a broken SAN.
  if (critical != -1) return names;
  std::string cn = http::ascii_lowercase(name_entry_text(X509_get_subject_name(cert), NID_commonName));
  if (!cn.empty()) names.push_back(std::move(cn));
  return names;
}

std::string distinguished_name_text(const X509_NAME* name) {
  std::string out;
  if (name == nullptr) return out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    const ASN1_OBJECT* object = X509_NAME_ENTRY_get_object(entry);
    const int nid = OBJ_obj2nid(object);
    out += '/';
    if (nid != NID_undef && OBJ_nid2sn(nid) != nullptr) {
      out += OBJ_nid2sn(nid);
    } else {
      char oid[128];
      OBJ_obj2txt(oid, sizeof(oid), object, 1);
      out += oid;
    }
    out += '=';
    out += asn1_string_text(X509_NAME_ENTRY_get_data(entry));
  }
  return out;
}

std::string name_entry_text(const X509_NAME* name, int nid) {
  if (name == nullptr) return {};
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return {};
  return asn1_string_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
}

std::string certificate_label(const X509* cert) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  std::string cn = name_entry_text(subject, NID_commonName);
  if (!cn.empty()) return "CN=" + cn;
  std::string dn = distinguished_name_text(subject);
  return dn.empty() ? "(empty subject)" : dn;
}

std::string time_text(const ASN1_TIME* time) {
  // BoringSSL of this vintage has no ASN1_TIME_to_tm: take the distance from the epoch.
  bssl::UniquePtr<ASN1_TIME> epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (time == nullptr || !epoch || !ASN1_TIME_diff(&days, &seconds, epoch.get(), time)) {
    return "(unreadable time)";
  }
  const time_t t = static_cast<time_t>(days) * 86400 + seconds;
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return "(unreadable time)";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string haproxy_time_text(const ASN1_TIME* time) {
  if (time == nullptr) return {};
  std::string raw(reinterpret_cast<const char*>(ASN1_STRING_get0_data(time)),
                  static_cast<size_t>(ASN1_STRING_length(time)));
  if (ASN1_STRING_type(time) == V_ASN1_GENERALIZEDTIME && raw.size() >= 15) return raw.substr(2);
  return raw;
}

}  // namespace pharos::tls
