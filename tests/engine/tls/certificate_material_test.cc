// Certificate material: containers, bundles, CA and CRL text, and the errors operators see.
#include "engine/tls/certificate_material.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "engine/tls/server_context.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::tls {
namespace {

using test::test_pki;

const std::string kPath = "/listeners/2/default_tls_container";

config::TlsContainer pem_container(const test::Credential& c) { return test::container(c, kPath); }

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(CertificateMaterial, LoadsPemContainer) {
  auto key = load_certified_key(pem_container(test_pki().server_ecdsa));
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key.value()->key_type, KeyType::kEcdsa);
  EXPECT_EQ(key.value()->dns_names, (std::vector<std::string>{"www.example.com", "example.com"}));
  EXPECT_EQ(key.value()->chain.size(), 1u);
  EXPECT_EQ(key.value()->label, "CN=www.example.com");
  EXPECT_EQ(key.value()->path, kPath);
}

TEST(CertificateMaterial, ChainAfterCertificateAndIntermediates) {
  const auto& pki = test_pki();
  auto with_chain = pem_container(pki.chained_ecdsa);
  with_chain.certificate += pki.intermediate.certificate_pem;
  auto a = load_certified_key(with_chain);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a.value()->chain.size(), 2u);

  auto separate = pem_container(pki.chained_ecdsa);
  separate.intermediates = {pki.intermediate.certificate_pem};
  auto b = load_certified_key(separate);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b.value()->chain.size(), 2u);
}

TEST(CertificateMaterial, FileBundleInAnyOrder) {
  const auto& pki = test_pki();
  config::TlsContainer c;
  c.path = kPath;
  c.file = write_temp("bundle.pem", pki.chained_ecdsa.private_key_pem +
                                        pki.intermediate.certificate_pem +
                                        pki.chained_ecdsa.certificate_pem);
  auto key = load_certified_key(c);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key.value()->label, "CN=chain.example.com");
  ASSERT_EQ(key.value()->chain.size(), 2u);
  std::remove(c.file.c_str());
}

TEST(CertificateMaterial, UnreadableFile) {
  config::TlsContainer c;
  c.path = kPath;
  c.file = "/nonexistent/pharos/bundle.pem";
  auto key = load_certified_key(c);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().path, kPath + "/file");
  EXPECT_NE(key.error().message.find("cannot read /nonexistent/pharos/bundle.pem"),
            std::string::npos)
      << key.error().message;
}

TEST(CertificateMaterial, NotPem) {
  auto c = pem_container(test_pki().server_ecdsa);
  c.certificate = "hello, not a certificate";
  auto key = load_certified_key(c);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().path, kPath + "/certificate");
  EXPECT_NE(key.error().message.find("not PEM"), std::string::npos) << key.error().message;
}

TEST(CertificateMaterial, MalformedPemBody) {
  auto c = pem_container(test_pki().server_ecdsa);
  c.certificate = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
  auto key = load_certified_key(c);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().path, kPath + "/certificate");
}

TEST(CertificateMaterial, NoCertificateFound) {
  auto c = pem_container(test_pki().server_ecdsa);
  c.certificate = "";
  auto key = load_certified_key(c);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().path, kPath + "/certificate");
}

TEST(CertificateMaterial, NoPrivateKey) {
  auto c = pem_container(test_pki().server_ecdsa);
  c.private_key.clear();
  auto key = load_certified_key(c);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().path, kPath + "/private_key");
  EXPECT_NE(key.error().message.find("no private key"), std::string::npos);
}

TEST(CertificateMaterial, MismatchedKey) {
  auto c = pem_container(test_pki().server_ecdsa);
  c.private_key = test_pki().other_ecdsa.private_key_pem;
  auto key = load_certified_key(c);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().path, kPath + "/private_key");
  EXPECT_NE(key.error().message.find("does not match the certificate CN=www.example.com"),
            std::string::npos)
      << key.error().message;
}

TEST(CertificateMaterial, ExpiredCertificateSaysWhen) {
  auto key = load_certified_key(pem_container(test_pki().expired_ecdsa));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().path, kPath + "/certificate");
  EXPECT_NE(key.error().message.find("expired on 20"), std::string::npos) << key.error().message;
  EXPECT_NE(key.error().message.find(" UTC"), std::string::npos) << key.error().message;
}

TEST(CertificateMaterial, NotYetValid) {
  auto key = load_certified_key(pem_container(test_pki().not_yet_valid_ecdsa));
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.error().message.find("not valid before"), std::string::npos)
      << key.error().message;
}

TEST(CertificateMaterial, UnsupportedKeyType) {
  auto ed = test::issue({.common_name = "ed.example.com", .key = test::KeyKind::kEd25519},
                        &test_pki().ca);
  auto key = load_certified_key(pem_container(ed));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().path, kPath + "/private_key");
  EXPECT_NE(key.error().message.find("unsupported private key type"), std::string::npos)
      << key.error().message;
}

TEST(CertificateMaterial, EncryptedKeyIsRefused) {
  auto c = pem_container(test_pki().server_ecdsa);
  c.private_key = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
  auto key = load_certified_key(c);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().path, kPath + "/private_key");
  EXPECT_NE(key.error().message.find("encrypted"), std::string::npos) << key.error().message;
}

TEST(CertificateMaterial, CaBundleAndCrls) {
  const auto& pki = test_pki();
  auto cas = load_ca_certificates(pki.ca.certificate_pem + pki.other_ca.certificate_pem, "/ca");
  ASSERT_TRUE(cas.ok()) << cas.error().message;
  EXPECT_EQ(cas.value().size(), 2u);
  auto crls = load_crls(pki.crl, "/crl", cas.value());
  ASSERT_TRUE(crls.ok()) << crls.error().message;
  EXPECT_EQ(crls.value().size(), 1u);

  auto not_ca = load_ca_certificates(pki.crl, "/ca");
  ASSERT_FALSE(not_ca.ok());
  EXPECT_EQ(not_ca.error().path, "/ca");

  auto stranger_cas = load_ca_certificates(pki.other_ca.certificate_pem, "/ca");
  ASSERT_TRUE(stranger_cas.ok());
  auto foreign = load_crls(pki.crl, "/crl", stranger_cas.value());
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().path, "/crl");
  EXPECT_NE(foreign.error().message.find("matches no CA"), std::string::npos);

  auto garbage = load_crls("no pem here", "/crl", cas.value());
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("not PEM"), std::string::npos);
}

TEST(CertificateMaterial, ListenerErrorsNameTheField) {
  const auto& pki = test_pki();
  config::ListenerTls tls;
  tls.path = "/listeners/1";
  tls.default_container = test::container(pki.server_ecdsa, "/listeners/1/default_tls_container");
  auto bad_sni = test::container(pki.expired_ecdsa, "/listeners/1/sni_containers/0");
  tls.sni_containers = {bad_sni};
  auto result = ServerTlsContext::create(tls, {}, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().path, "/listeners/1/sni_containers/0/certificate");

  tls.sni_containers.clear();
  tls.client_authentication = config::ClientAuthentication::kMandatory;
  result = ServerTlsContext::create(tls, {}, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().path, "/listeners/1/client_ca_tls_container");

  tls.client_ca_pem = pki.ca.certificate_pem;
  tls.client_crl_pem = "-----BEGIN X509 CRL-----\n@@@\n-----END X509 CRL-----\n";
  result = ServerTlsContext::create(tls, {}, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().path, "/listeners/1/client_crl_container");
}

}  // namespace
}  // namespace pharos::tls
