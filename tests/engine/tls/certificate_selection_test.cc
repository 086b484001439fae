// Which certificate a connection gets: SNI (exact, wildcard, CN fallback, default) and ECDSA vs
// RSA by what the client can verify.
#include <gtest/gtest.h>

#include "engine/tls/server_context.h"
#include "tests/engine/tls/handshake_harness.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::tls {
namespace {

using test::ClientOptions;
using test::make_listener_tls;
using test::run_handshake;
using test::test_pki;

class CertificateSelection : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& pki = test_pki();
    // Default: ECDSA www; SNI: RSA www, wildcard, api.example.net, CN-only legacy.
    auto tls = make_listener_tls(pki.server_ecdsa, {&pki.server_rsa, &pki.wildcard_ecdsa,
                                                    &pki.other_ecdsa, &pki.cn_only_ecdsa});
    auto result = ServerTlsContext::create(tls, {}, nullptr);
    ASSERT_TRUE(result.ok()) << result.error().path << ": " << result.error().message;
    context_ = result.value();
  }

  test::Handshake connect(ClientOptions options) {
    return run_handshake(options, context_->new_connection());
  }

  std::shared_ptr<const ServerTlsContext> context_;
};

const std::vector<uint16_t> kRsaOnlySigalgs = {SSL_SIGN_RSA_PKCS1_SHA256,
                                               SSL_SIGN_RSA_PSS_RSAE_SHA256};

TEST_F(CertificateSelection, ModernClientGetsEcdsa) {
  auto h = connect({.server_name = "www.example.com"});
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.server_key_type(), EVP_PKEY_EC);
}

TEST_F(CertificateSelection, RsaOnlyTls12ClientGetsRsa) {
  auto h = connect({.server_name = "www.example.com",
                    .max_version = TLS1_2_VERSION,
                    .ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305",
                    .sigalgs = kRsaOnlySigalgs});
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.server_key_type(), EVP_PKEY_RSA);
  EXPECT_EQ(h.server_common_name(), "www.example.com");
}

TEST_F(CertificateSelection, RsaOnlySuitesWithEcdsaSigalgsGetRsa) {
  auto h = connect({.server_name = "example.com",
                    .max_version = TLS1_2_VERSION,
                    .ciphers = "ECDHE-RSA-AES128-GCM-SHA256"});
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.server_key_type(), EVP_PKEY_RSA);
}

TEST_F(CertificateSelection, Tls13ClientWithoutEcdsaSchemesGetsRsa) {
  auto h = connect({.server_name = "www.example.com", .sigalgs = kRsaOnlySigalgs});
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.version(), TLS1_3_VERSION);
  EXPECT_EQ(h.server_key_type(), EVP_PKEY_RSA);
}

TEST_F(CertificateSelection, DefaultPairsWithRsaWithoutSni) {
  auto ecdsa = connect({});
  ASSERT_TRUE(ecdsa.ok) << ecdsa.error;
  EXPECT_EQ(ecdsa.server_key_type(), EVP_PKEY_EC);
  auto rsa = connect({.max_version = TLS1_2_VERSION,
                      .ciphers = "ECDHE-RSA-AES128-GCM-SHA256",
                      .sigalgs = kRsaOnlySigalgs});
  ASSERT_TRUE(rsa.ok) << rsa.error;
  EXPECT_EQ(rsa.server_key_type(), EVP_PKEY_RSA);
}

TEST_F(CertificateSelection, SniPicksTheMatchingCertificate) {
  auto h = connect({.server_name = "API.example.net"});
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.server_common_name(), "api.example.net");
}

TEST_F(CertificateSelection, WildcardMatchesOneLabel) {
  auto h = connect({.server_name = "shop.apps.example.com"});
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.server_common_name(), "*.apps.example.com");
  auto deeper = connect({.server_name = "a.b.apps.example.com"});
  ASSERT_TRUE(deeper.ok) << deeper.error;
  EXPECT_EQ(deeper.server_common_name(), "www.example.com");  // default
  auto bare = connect({.server_name = "apps.example.com"});
  ASSERT_TRUE(bare.ok) << bare.error;
  EXPECT_EQ(bare.server_common_name(), "www.example.com");
}

TEST_F(CertificateSelection, CommonNameWithoutSan) {
  auto h = connect({.server_name = "legacy.example.com"});
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.server_common_name(), "legacy.example.com");
}

TEST_F(CertificateSelection, UnknownNameGetsDefault) {
  auto h = connect({.server_name = "nobody.example.org"});
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.server_common_name(), "www.example.com");
  EXPECT_EQ(h.server_key_type(), EVP_PKEY_EC);
}

TEST(CertificateSelectionChain, ChainIsSent) {
  const auto& pki = test_pki();
  auto tls = make_listener_tls(pki.chained_ecdsa);
  tls.default_container.intermediates = {pki.intermediate.certificate_pem};
  auto result = ServerTlsContext::create(tls, {}, nullptr);
  ASSERT_TRUE(result.ok()) << result.error().message;
  auto h = run_handshake(ClientOptions{.server_name = "chain.example.com"},
                         result.value()->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(h.client.get());
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(sk_X509_num(chain), 2u);
}

}  // namespace
}  // namespace pharos::tls
