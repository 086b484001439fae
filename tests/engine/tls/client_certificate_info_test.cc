// client_certificate_info: the values behind Octavia's X-SSL-Client-* headers.
#include "engine/tls/client_certificate_info.h"

#include <gtest/gtest.h>

#include <openssl/digest.h>

#include <regex>

#include "engine/tls/server_context.h"
#include "tests/engine/tls/handshake_harness.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::tls {
namespace {

using test::test_pki;

std::shared_ptr<const ServerTlsContext> optional_auth_listener(
    std::shared_ptr<TicketKeyRing> keys = nullptr) {
  auto tls = test::make_listener_tls(test_pki().server_ecdsa);
  tls.client_authentication = config::ClientAuthentication::kOptional;
  tls.client_ca_pem = test_pki().ca.certificate_pem;
  auto result = ServerTlsContext::create(tls, {}, std::move(keys));
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? result.value() : nullptr;
}

std::string expected_sha1(const std::string& pem) {
  auto cert = test::load_certificate(pem);
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  X509_digest(cert.get(), EVP_sha1(), digest, &len);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    snprintf(buf, sizeof(buf), "%02X", digest[i]);
    hex += buf;
  }
  return hex;
}

TEST(ClientCertificateInfo, Fields) {
  auto context = optional_auth_listener();
  ASSERT_TRUE(context);
  auto h = test::run_handshake(
      test::ClientOptions{.server_name = "www.example.com",
                          .alpn = {"http/1.1"},
                          .certificate = &test_pki().client_good},
      context->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  const ClientCertificateInfo info = client_certificate_info(h.server.get());
  EXPECT_TRUE(info.has_certificate);
  EXPECT_EQ(info.verify_result, 0);
  EXPECT_EQ(info.subject_dn, "/O=Pharos Tests/CN=client-good");
  EXPECT_EQ(info.subject_cn, "client-good");
  EXPECT_EQ(info.issuer_dn, "/O=Pharos Tests/CN=Pharos Test CA");
  EXPECT_EQ(info.sha1_hex, expected_sha1(test_pki().client_good.certificate_pem));
  EXPECT_EQ(info.sha1_hex.size(), 40u);
  const std::regex haproxy_time("[0-9]{12}Z");
  EXPECT_TRUE(std::regex_match(info.not_before, haproxy_time)) << info.not_before;
  EXPECT_TRUE(std::regex_match(info.not_after, haproxy_time)) << info.not_after;
  EXPECT_LT(info.not_before, info.not_after);
  EXPECT_EQ(negotiated_alpn(h.server.get()), "http/1.1");
  EXPECT_EQ(client_server_name(h.server.get()), "www.example.com");
}

TEST(ClientCertificateInfo, NoCertificate) {
  auto context = optional_auth_listener();
  ASSERT_TRUE(context);
  auto h = test::run_handshake(test::ClientOptions{}, context->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  const ClientCertificateInfo info = client_certificate_info(h.server.get());
  EXPECT_FALSE(info.has_certificate);
  EXPECT_EQ(info.verify_result, 0);
  EXPECT_EQ(info.subject_dn, "");
  EXPECT_EQ(negotiated_alpn(h.server.get()), "");
  EXPECT_EQ(client_server_name(h.server.get()), "");
}

TEST(ClientCertificateInfo, SurvivesResumption) {
  auto keys = TicketKeyRing::create(config::TlsSessions{});
  auto context = optional_auth_listener(keys);
  ASSERT_TRUE(context);
  test::ClientOptions options{.certificate = &test_pki().client_good};
  auto full = test::run_handshake(options, context->new_connection());
  ASSERT_TRUE(full.ok) << full.error;
  options.session = full.session.get();
  auto resumed = test::run_handshake(options, context->new_connection());
  ASSERT_TRUE(resumed.ok) << resumed.error;
  ASSERT_TRUE(resumed.resumed());
  EXPECT_EQ(client_certificate_info(resumed.server.get()).subject_cn, "client-good");
}

}  // namespace
}  // namespace pharos::tls
