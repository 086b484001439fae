// ClientTlsContext: verifying members, client certificates, ALPN, session reuse.
#include "engine/tls/client_context.h"

#include <gtest/gtest.h>

#include "engine/tls/client_certificate_info.h"
#include "engine/tls/server_context.h"
#include "tests/engine/tls/handshake_harness.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::tls {
namespace {

using test::Credential;
using test::test_pki;

// A member: a ServerTlsContext presenting `credential`.
std::shared_ptr<const ServerTlsContext> member(const Credential& credential,
                                               config::ListenerTls tls = {},
                                               std::shared_ptr<TicketKeyRing> keys = nullptr) {
  auto base = test::make_listener_tls(credential);
  base.versions = tls.versions;
  base.alpn_protocols = tls.alpn_protocols;
  base.client_authentication = tls.client_authentication;
  base.client_ca_pem = tls.client_ca_pem;
  auto result = ServerTlsContext::create(base, {}, std::move(keys));
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? result.value() : nullptr;
}

config::PoolTls pool_tls(const std::string& ca_pem = {}) {
  config::PoolTls tls;
  tls.path = "/pools/3";
  tls.ca_pem = ca_pem;
  return tls;
}

std::shared_ptr<const ClientTlsContext> client(const config::PoolTls& tls) {
  auto result = ClientTlsContext::create(tls);
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().path + ": " +
                                                       result.error().message);
  return result.ok() ? result.value() : nullptr;
}

TEST(ClientTlsContext, WithoutCaAnythingGoes) {
  auto c = client(pool_tls());
  auto m = member(test_pki().client_unknown_ca);  // not a server certificate, other CA
  ASSERT_TRUE(c && m);
  EXPECT_FALSE(c->verifies_members());
  auto h = test::run_handshake(c->new_connection("10.0.0.5"), m->new_connection());
  EXPECT_TRUE(h.ok) << h.error;
}

TEST(ClientTlsContext, GoodCaVerifiesChainAndName) {
  auto c = client(pool_tls(test_pki().ca.certificate_pem));
  auto m = member(test_pki().server_ecdsa);
  ASSERT_TRUE(c && m);
  auto h = test::run_handshake(c->new_connection("www.example.com"), m->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(client_server_name(h.server.get()), "www.example.com");
  // No name known (members are IPs): the chain alone is verified.
  auto chain_only = test::run_handshake(c->new_connection(""), m->new_connection());
  EXPECT_TRUE(chain_only.ok) << chain_only.error;
  EXPECT_EQ(client_server_name(chain_only.server.get()), "");
}

TEST(ClientTlsContext, WrongCaFails) {
  auto c = client(pool_tls(test_pki().other_ca.certificate_pem));
  auto m = member(test_pki().server_ecdsa);
  ASSERT_TRUE(c && m);
  auto h = test::run_handshake(c->new_connection("www.example.com"), m->new_connection());
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(SSL_get_verify_result(h.client.get()), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(ClientTlsContext, NameMismatchFails) {
  auto c = client(pool_tls(test_pki().ca.certificate_pem));
  auto m = member(test_pki().server_ecdsa);
  ASSERT_TRUE(c && m);
  auto h = test::run_handshake(c->new_connection("db.example.org"), m->new_connection());
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(SSL_get_verify_result(h.client.get()), X509_V_ERR_HOSTNAME_MISMATCH);
  // An IP literal is checked as an IP: the certificate has none.
  auto ip = test::run_handshake(c->new_connection("192.0.2.7"), m->new_connection());
  EXPECT_FALSE(ip.ok);
}

TEST(ClientTlsContext, RevokedMemberFails) {
  auto tls = pool_tls(test_pki().ca.certificate_pem);
  tls.crl_pem = test_pki().crl;
  auto c = client(tls);
  auto m = member(test_pki().client_revoked);
  ASSERT_TRUE(c && m);
  auto h = test::run_handshake(c->new_connection(""), m->new_connection());
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(SSL_get_verify_result(h.client.get()), X509_V_ERR_CERT_REVOKED);
}

TEST(ClientTlsContext, PresentsClientCertificate) {
  auto tls = pool_tls();
  tls.client_certificate = test::container(test_pki().client_good, "/pools/3/tls_container");
  auto c = client(tls);
  config::ListenerTls strict;
  strict.client_authentication = config::ClientAuthentication::kMandatory;
  strict.client_ca_pem = test_pki().ca.certificate_pem;
  auto m = member(test_pki().server_ecdsa, strict);
  ASSERT_TRUE(c && m);
  auto h = test::run_handshake(c->new_connection(""), m->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(client_certificate_info(h.server.get()).subject_cn, "client-good");
}

TEST(ClientTlsContext, AlpnVersionsAndErrors) {
  auto tls = pool_tls();
  tls.alpn_protocols = {"h2", "http/1.1"};
  tls.versions = config::kTls12;
  auto c = client(tls);
  config::ListenerTls h2;
  h2.alpn_protocols = {"h2"};
  auto m = member(test_pki().server_ecdsa, h2);
  ASSERT_TRUE(c && m);
  auto h = test::run_handshake(c->new_connection(""), m->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(negotiated_alpn(h.client.get()), "h2");
  EXPECT_EQ(negotiated_alpn(h.server.get()), "h2");
  EXPECT_EQ(h.version(), TLS1_2_VERSION);

  auto bad = pool_tls();
  bad.ciphers = "BOGUS";
  auto result = ClientTlsContext::create(bad);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().path, "/pools/3/tls_ciphers");

  auto bad_ca = pool_tls("-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n");
  result = ClientTlsContext::create(bad_ca);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().path, "/pools/3/ca_tls_container");

  auto bad_cert = pool_tls();
  bad_cert.client_certificate = test::container(test_pki().expired_ecdsa, "/pools/3/tls_container");
  result = ClientTlsContext::create(bad_cert);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().path, "/pools/3/tls_container/certificate");
}

class MemberSessionReuse : public ::testing::TestWithParam<uint8_t> {};

TEST_P(MemberSessionReuse, SecondConnectionResumes) {
  auto tls = pool_tls(test_pki().ca.certificate_pem);
  tls.versions = GetParam();
  auto c = client(tls);
  auto keys = TicketKeyRing::create(config::TlsSessions{});
  auto m = member(test_pki().server_ecdsa, {}, keys);
  ASSERT_TRUE(c && m);
  auto first = test::run_handshake(c->new_connection("www.example.com", "10.0.0.5:443"),
                                   m->new_connection());
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_FALSE(first.resumed());
  auto second = test::run_handshake(c->new_connection("www.example.com", "10.0.0.5:443"),
                                    m->new_connection());
  ASSERT_TRUE(second.ok) << second.error;
  EXPECT_TRUE(second.resumed());
  auto other_member = test::run_handshake(c->new_connection("www.example.com", "10.0.0.6:443"),
                                          m->new_connection());
  ASSERT_TRUE(other_member.ok) << other_member.error;
  EXPECT_FALSE(other_member.resumed());
}

INSTANTIATE_TEST_SUITE_P(Versions, MemberSessionReuse,
                         ::testing::Values(uint8_t{config::kTls13}, uint8_t{config::kTls12}),
                         [](const auto& info) {
                           return info.param == config::kTls13 ? std::string("Tls13")
                                                               : std::string("Tls12");
                         });

}  // namespace
}  // namespace pharos::tls
