// Client certificate authentication NONE / OPTIONAL / MANDATORY, with CA and CRL.
#include <gtest/gtest.h>

#include "engine/tls/server_context.h"
#include "tests/engine/tls/handshake_harness.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::tls {
namespace {

using config::ClientAuthentication;
using test::ClientOptions;
using test::Credential;
using test::test_pki;

// Each case runs over TLS 1.3 and TLS 1.2: a rejected certificate surfaces at different moments.
class ClientAuth : public ::testing::TestWithParam<uint16_t> {
 protected:
  std::shared_ptr<const ServerTlsContext> build(ClientAuthentication mode, bool with_crl = true) {
    auto tls = test::make_listener_tls(test_pki().server_ecdsa);
    tls.client_authentication = mode;
    if (mode != ClientAuthentication::kNone) {
      tls.client_ca_pem = test_pki().ca.certificate_pem;
      if (with_crl) tls.client_crl_pem = test_pki().crl;
    }
    auto result = ServerTlsContext::create(tls, {}, nullptr);
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    return result.ok() ? result.value() : nullptr;
  }

  test::Handshake connect(const ServerTlsContext& context, const Credential* certificate) {
    return test::run_handshake(
        ClientOptions{.max_version = GetParam(), .certificate = certificate},
        context.new_connection());
  }

  static bool server_saw_certificate(const test::Handshake& h) {
    bssl::UniquePtr<X509> peer(SSL_get_peer_certificate(h.server.get()));
    return peer != nullptr;
  }
};

TEST_P(ClientAuth, NoneIgnoresCertificates) {
  auto context = build(ClientAuthentication::kNone);
  ASSERT_TRUE(context);
  auto h = connect(*context, &test_pki().client_unknown_ca);
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_FALSE(server_saw_certificate(h));
}

TEST_P(ClientAuth, OptionalAcceptsNoCertificate) {
  auto context = build(ClientAuthentication::kOptional);
  ASSERT_TRUE(context);
  auto h = connect(*context, nullptr);
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_FALSE(server_saw_certificate(h));
}

TEST_P(ClientAuth, OptionalAcceptsGoodCertificate) {
  auto context = build(ClientAuthentication::kOptional);
  ASSERT_TRUE(context);
  auto h = connect(*context, &test_pki().client_good);
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_TRUE(server_saw_certificate(h));
  EXPECT_EQ(SSL_get_verify_result(h.server.get()), X509_V_OK);
}

TEST_P(ClientAuth, OptionalRefusesInvalidCertificates) {
  auto context = build(ClientAuthentication::kOptional);
  ASSERT_TRUE(context);
  EXPECT_FALSE(connect(*context, &test_pki().client_unknown_ca).ok);
  EXPECT_FALSE(connect(*context, &test_pki().client_revoked).ok);
}

TEST_P(ClientAuth, MandatoryNeedsACertificate) {
  auto context = build(ClientAuthentication::kMandatory);
  ASSERT_TRUE(context);
  EXPECT_FALSE(connect(*context, nullptr).ok);
  auto h = connect(*context, &test_pki().client_good);
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_TRUE(server_saw_certificate(h));
}

TEST_P(ClientAuth, MandatoryRefusesUnknownCaAndRevoked) {
  auto context = build(ClientAuthentication::kMandatory);
  ASSERT_TRUE(context);
  auto unknown = connect(*context, &test_pki().client_unknown_ca);
  EXPECT_FALSE(unknown.ok);
  auto revoked = connect(*context, &test_pki().client_revoked);
  EXPECT_FALSE(revoked.ok);
  EXPECT_EQ(SSL_get_verify_result(revoked.server.get()), X509_V_ERR_CERT_REVOKED);
}

TEST_P(ClientAuth, WithoutCrlRevokedIsAccepted) {
  auto context = build(ClientAuthentication::kMandatory, /*with_crl=*/false);
  ASSERT_TRUE(context);
  auto h = connect(*context, &test_pki().client_revoked);
  EXPECT_TRUE(h.ok) << h.error;
}

INSTANTIATE_TEST_SUITE_P(Versions, ClientAuth,
                         ::testing::Values(uint16_t{TLS1_3_VERSION}, uint16_t{TLS1_2_VERSION}),
                         [](const auto& info) {
                           return info.param == TLS1_3_VERSION ? std::string("Tls13")
                                                               : std::string("Tls12");
                         });

}  // namespace
}  // namespace pharos::tls
