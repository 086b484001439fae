#include "tests/engine/tls/test_pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace pharos::tls::test {
namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "test_pki: %s failed\n", what);
    std::abort();
  }
}

bssl::UniquePtr<EVP_PKEY> generate_key(KeyKind kind) {
  bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
  if (kind == KeyKind::kRsa) {
    bssl::UniquePtr<RSA> rsa(RSA_new());
    bssl::UniquePtr<BIGNUM> e(BN_new());
    check(BN_set_word(e.get(), RSA_F4) && RSA_generate_key_ex(rsa.get(), 2048, e.get(), nullptr),
          "RSA key generation");
    check(EVP_PKEY_assign_RSA(pkey.get(), rsa.release()), "EVP_PKEY_assign_RSA");
  } else if (kind == KeyKind::kEd25519) {
    bssl::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
    EVP_PKEY* raw = nullptr;
    check(ctx && EVP_PKEY_keygen_init(ctx.get()) && EVP_PKEY_keygen(ctx.get(), &raw),
          "Ed25519 key generation");
    pkey.reset(raw);
  } else {
    bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
    check(ec && EC_KEY_generate_key(ec.get()), "EC key generation");
    check(EVP_PKEY_assign_EC_KEY(pkey.get(), ec.release()), "EVP_PKEY_assign_EC_KEY");
  }
  return pkey;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
  check(ext != nullptr, "X509V3_EXT_nconf_nid");
  check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

std::string to_pem(X509* cert) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string to_pem(EVP_PKEY* key) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "PEM_write_bio_PrivateKey");
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

uint64_t next_serial() {
  static std::atomic<uint64_t> serial{1000};
  return serial++;
}

}  // namespace

bssl::UniquePtr<X509> load_certificate(const std::string& pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return bssl::UniquePtr<X509>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

bssl::UniquePtr<EVP_PKEY> load_private_key(const std::string& pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return bssl::UniquePtr<EVP_PKEY>(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

Credential issue(const CertificateSpec& spec, const Credential* issuer) {
  bssl::UniquePtr<EVP_PKEY> key = generate_key(spec.key);
  bssl::UniquePtr<X509> cert(X509_new());
  const uint64_t serial = next_serial();
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");
  check(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial), "serial");
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(spec.not_before_s)) &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(spec.not_after_s)),
        "validity");
  check(X509_set_pubkey(cert.get(), key.get()), "X509_set_pubkey");

  X509_NAME* subject = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                   reinterpret_cast<const uint8_t*>("Pharos Tests"), -1, -1, 0) &&
            X509_NAME_add_entry_by_txt(
                subject, "CN", MBSTRING_UTF8,
                reinterpret_cast<const uint8_t*>(spec.common_name.c_str()), -1, -1, 0),
        "subject");

  bssl::UniquePtr<X509> issuer_cert;
  bssl::UniquePtr<EVP_PKEY> issuer_key;
  if (issuer != nullptr) {
    issuer_cert = load_certificate(issuer->certificate_pem);
    issuer_key = load_private_key(issuer->private_key_pem);
    check(issuer_cert && issuer_key, "issuer parse");
    check(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert.get())), "issuer");
  } else {
    check(X509_set_issuer_name(cert.get(), subject), "issuer");
  }
  X509* issuer_x509 = issuer_cert ? issuer_cert.get() : cert.get();

  if (spec.is_ca) {
    add_extension(cert.get(), issuer_x509, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), issuer_x509, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), issuer_x509, NID_basic_constraints, "critical,CA:FALSE");
  }
  add_extension(cert.get(), issuer_x509, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) {
    add_extension(cert.get(), issuer_x509, NID_authority_key_identifier, "keyid:always");
  }
  if (!spec.dns_names.empty()) {
    std::string san;
    for (const auto& name : spec.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + name;
    add_extension(cert.get(), issuer_x509, NID_subject_alt_name, san);
  }
  EVP_PKEY* signer = issuer_key ? issuer_key.get() : key.get();
  const EVP_MD* digest = EVP_PKEY_id(signer) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  check(X509_sign(cert.get(), signer, digest),
        "X509_sign");
  return Credential{to_pem(cert.get()), to_pem(key.get()), serial};
}

std::string make_crl(const Credential& ca, const std::vector<uint64_t>& revoked_serials) {
  bssl::UniquePtr<X509> ca_cert = load_certificate(ca.certificate_pem);
  bssl::UniquePtr<EVP_PKEY> ca_key = load_private_key(ca.private_key_pem);
  check(ca_cert && ca_key, "CA parse");
  bssl::UniquePtr<X509_CRL> crl(X509_CRL_new());
  check(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2), "CRL version");
  check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert.get())), "CRL issuer");
  bssl::UniquePtr<ASN1_TIME> last(X509_gmtime_adj(nullptr, -3600));
  bssl::UniquePtr<ASN1_TIME> next(X509_gmtime_adj(nullptr, 7 * 86400));
  check(X509_CRL_set1_lastUpdate(crl.get(), last.get()) &&
            X509_CRL_set1_nextUpdate(crl.get(), next.get()),
        "CRL times");
  for (uint64_t serial : revoked_serials) {
    X509_REVOKED* revoked = X509_REVOKED_new();
    bssl::UniquePtr<ASN1_INTEGER> number(ASN1_INTEGER_new());
    check(ASN1_INTEGER_set_uint64(number.get(), serial), "revoked serial");
    check(X509_REVOKED_set_serialNumber(revoked, number.get()) &&
              X509_REVOKED_set_revocationDate(revoked, last.get()),
          "revoked entry");
    check(X509_CRL_add0_revoked(crl.get(), revoked), "X509_CRL_add0_revoked");
  }
  check(X509_CRL_sort(crl.get()), "X509_CRL_sort");
  check(X509_CRL_sign(crl.get(), ca_key.get(), EVP_sha256()), "X509_CRL_sign");
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509_CRL(bio.get(), crl.get()), "PEM_write_bio_X509_CRL");
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

const TestPki& test_pki() {
  static const TestPki pki = [] {
    TestPki p;
    p.ca = issue({.common_name = "Pharos Test CA", .is_ca = true, .not_after_s = 365 * 86400},
                 nullptr);
    p.other_ca = issue(
        {.common_name = "Pharos Other CA", .is_ca = true, .not_after_s = 365 * 86400}, nullptr);
    p.intermediate = issue({.common_name = "Pharos Test Intermediate", .is_ca = true}, &p.ca);
    const std::vector<std::string> www = {"www.example.com", "example.com"};
    p.server_rsa = issue({.common_name = "www.example.com", .dns_names = www, .key = KeyKind::kRsa},
                         &p.ca);
    p.server_ecdsa = issue({.common_name = "www.example.com", .dns_names = www}, &p.ca);
    p.wildcard_ecdsa =
        issue({.common_name = "*.apps.example.com", .dns_names = {"*.apps.example.com"}}, &p.ca);
    p.other_ecdsa =
        issue({.common_name = "api.example.net", .dns_names = {"api.example.net"}}, &p.ca);
    p.cn_only_ecdsa = issue({.common_name = "legacy.example.com"}, &p.ca);
    p.chained_ecdsa =
        issue({.common_name = "chain.example.com", .dns_names = {"chain.example.com"}},
              &p.intermediate);
    p.expired_ecdsa = issue({.common_name = "www.example.com",
                             .dns_names = www,
                             .not_before_s = -30 * 86400,
                             .not_after_s = -3600},
                            &p.ca);
    p.not_yet_valid_ecdsa = issue({.common_name = "www.example.com",
                                   .dns_names = www,
                                   .not_before_s = 86400,
                                   .not_after_s = 30 * 86400},
                                  &p.ca);
    p.client_good = issue({.common_name = "client-good"}, &p.ca);
    p.client_unknown_ca = issue({.common_name = "client-stranger"}, &p.other_ca);
    p.client_revoked = issue({.common_name = "client-revoked"}, &p.ca);
    p.crl = make_crl(p.ca, {p.client_revoked.serial});
    return p;
  }();
  return pki;
}

config::TlsContainer container(const Credential& credential, const std::string& path) {
  config::TlsContainer c;
  c.id = path;
  c.certificate = credential.certificate_pem;
  c.private_key = credential.private_key_pem;
  c.path = path;
  return c;
}

}  // namespace pharos::tls::test
