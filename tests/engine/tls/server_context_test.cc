// ServerTlsContext: versions, ciphers and ALPN against a real BoringSSL client.
#include "engine/tls/server_context.h"

#include <gtest/gtest.h>

#include "tests/engine/tls/handshake_harness.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::tls {
namespace {

using test::ClientOptions;
using test::make_listener_tls;
using test::run_handshake;
using test::test_pki;

std::shared_ptr<const ServerTlsContext> build(const config::ListenerTls& tls) {
  auto result = ServerTlsContext::create(tls, config::TlsSessions{}, nullptr);
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().path + ": " +
                                                       result.error().message);
  return result.ok() ? result.value() : nullptr;
}

TEST(ServerTlsContext, Tls13HandshakeByDefault) {
  auto context = build(make_listener_tls(test_pki().server_ecdsa));
  ASSERT_TRUE(context);
  auto h = run_handshake(ClientOptions{.server_name = "www.example.com"}, context->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.version(), TLS1_3_VERSION);
  EXPECT_EQ(h.server_common_name(), "www.example.com");
}

TEST(ServerTlsContext, Tls12Handshake) {
  auto context = build(make_listener_tls(test_pki().server_ecdsa));
  ASSERT_TRUE(context);
  auto h = run_handshake(ClientOptions{.max_version = TLS1_2_VERSION}, context->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.version(), TLS1_2_VERSION);
  // The secure default: ECDHE with an AEAD.
  const SSL_CIPHER* cipher = SSL_get_current_cipher(h.client.get());
  EXPECT_EQ(SSL_CIPHER_get_kx_nid(cipher), NID_kx_ecdhe);
  EXPECT_TRUE(SSL_CIPHER_is_aead(cipher));
}

TEST(ServerTlsContext, RefusesTls10And11ByDefault) {
  auto context = build(make_listener_tls(test_pki().server_rsa));
  ASSERT_TRUE(context);
  for (uint16_t version : {uint16_t{TLS1_VERSION}, uint16_t{TLS1_1_VERSION}}) {
    auto h = run_handshake(ClientOptions{.min_version = version, .max_version = version},
                           context->new_connection());
    EXPECT_FALSE(h.ok) << "version " << version;
  }
}

TEST(ServerTlsContext, OldVersionsWhenConfigured) {
  auto tls = make_listener_tls(test_pki().server_rsa);
  tls.versions = config::kTls10 | config::kTls11 | config::kTls12;
  tls.ciphers = "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256";
  auto context = build(tls);
  ASSERT_TRUE(context);
  auto h = run_handshake(
      ClientOptions{.min_version = TLS1_VERSION, .max_version = TLS1_VERSION},
      context->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.version(), TLS1_VERSION);
  // TLS 1.3 is now off.
  auto modern = run_handshake(ClientOptions{}, context->new_connection());
  ASSERT_TRUE(modern.ok) << modern.error;
  EXPECT_EQ(modern.version(), TLS1_2_VERSION);
}

TEST(ServerTlsContext, Tls13Only) {
  auto tls = make_listener_tls(test_pki().server_ecdsa);
  tls.versions = config::kTls13;
  auto context = build(tls);
  ASSERT_TRUE(context);
  EXPECT_FALSE(run_handshake(ClientOptions{.max_version = TLS1_2_VERSION},
                             context->new_connection()).ok);
  EXPECT_TRUE(run_handshake(ClientOptions{}, context->new_connection()).ok);
}

TEST(ServerTlsContext, VersionGapIsRefused) {
  auto tls = make_listener_tls(test_pki().server_ecdsa);
  tls.versions = config::kTls10 | config::kTls12;
  auto result = ServerTlsContext::create(tls, {}, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().path, "/listeners/0/tls_versions");
  EXPECT_NE(result.error().message.find("without TLSv1.1"), std::string::npos)
      << result.error().message;
}

TEST(ServerTlsContext, CustomCiphers) {
  auto tls = make_listener_tls(test_pki().server_ecdsa);
  tls.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";
  auto context = build(tls);
  ASSERT_TRUE(context);
  auto h = run_handshake(ClientOptions{.max_version = TLS1_2_VERSION}, context->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_STREQ(SSL_CIPHER_get_name(SSL_get_current_cipher(h.client.get())),
               "ECDHE-ECDSA-CHACHA20-POLY1305");
  // A client offering only other suites is refused.
  auto other = run_handshake(ClientOptions{.max_version = TLS1_2_VERSION,
                                           .ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"},
                             context->new_connection());
  EXPECT_FALSE(other.ok);
}

TEST(ServerTlsContext, OctaviaDefaultCipherStringSkipsUnknownNames) {
  auto tls = make_listener_tls(test_pki().server_ecdsa);
  tls.ciphers =
      "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
      "DHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
  auto result = ServerTlsContext::create(tls, {}, nullptr);
  ASSERT_TRUE(result.ok()) << result.error().message;
  const auto& warnings = result.value()->warnings();
  // BoringSSL knows the TLS 1.3 names (and ignores them for 1.2); it has no DHE.
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].path, "/listeners/0/tls_ciphers");
  EXPECT_NE(warnings[0].message.find("DHE-RSA-AES256-GCM-SHA384"), std::string::npos);
  auto h = run_handshake(ClientOptions{.max_version = TLS1_2_VERSION},
                         result.value()->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
}

TEST(ServerTlsContext, BadCipherStringNamesTheField) {
  auto tls = make_listener_tls(test_pki().server_ecdsa);
  tls.ciphers = "NOT-A-CIPHER:ALSO-NOT";
  auto result = ServerTlsContext::create(tls, {}, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().path, "/listeners/0/tls_ciphers");
  EXPECT_NE(result.error().message.find("NOT-A-CIPHER"), std::string::npos)
      << result.error().message;
}

TEST(ServerTlsContext, AlpnDefaultsToHttp11) {
  auto context = build(make_listener_tls(test_pki().server_ecdsa));
  ASSERT_TRUE(context);
  auto h = run_handshake(ClientOptions{.alpn = {"h2", "http/1.1"}}, context->new_connection());
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.alpn(), "http/1.1");
}

TEST(ServerTlsContext, AlpnOffersH2WhenListed) {
  auto tls = make_listener_tls(test_pki().server_ecdsa);
  tls.alpn_protocols = {"h2", "http/1.1"};
  auto context = build(tls);
  ASSERT_TRUE(context);
  auto h2 = run_handshake(ClientOptions{.alpn = {"http/1.1", "h2"}}, context->new_connection());
  ASSERT_TRUE(h2.ok) << h2.error;
  EXPECT_EQ(h2.alpn(), "h2");  // server preference
  auto h1 = run_handshake(ClientOptions{.alpn = {"http/1.1"}}, context->new_connection());
  ASSERT_TRUE(h1.ok) << h1.error;
  EXPECT_EQ(h1.alpn(), "http/1.1");
  auto none = run_handshake(ClientOptions{.alpn = {"spdy/3"}}, context->new_connection());
  ASSERT_TRUE(none.ok) << none.error;
  EXPECT_EQ(none.alpn(), "");
  auto absent = run_handshake(ClientOptions{}, context->new_connection());
  ASSERT_TRUE(absent.ok) << absent.error;
  EXPECT_EQ(absent.alpn(), "");
}

TEST(ServerTlsContext, ConnectionsOutliveTheContext) {
  auto context = build(make_listener_tls(test_pki().server_ecdsa));
  ASSERT_TRUE(context);
  bssl::UniquePtr<SSL> server = context->new_connection();
  context.reset();  // a config apply replaced it
  auto h = run_handshake(ClientOptions{.alpn = {"http/1.1"}}, std::move(server));
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.alpn(), "http/1.1");
}

}  // namespace
}  // namespace pharos::tls
