#include <gtest/gtest.h>

#include "amphora_agent/agent/api/router.h"
#include "amphora_agent/agent/certificate_store.h"
#include "amphora_agent/agent/metrics/metrics_text.h"

namespace pharos::agent {
namespace {

TEST(Metrics, RendersAndEscapes) {
  EngineSnapshot s;
  s.up = true;
  s.restarts = 3;
  s.config_version = 9;
  s.listeners["l\"1"] = {1, 2, 3, 4, 5};
  s.members["m1"].status = "DOWN";
  s.members["m1"].responses["5xx"] = 7;
  const std::string text = metrics::render(s, "amp");
  EXPECT_NE(text.find("# TYPE pharos_engine_up gauge\npharos_engine_up{amphora=\"amp\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("pharos_engine_restarts_total{amphora=\"amp\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("pharos_listener_bytes_in_total{listener=\"l\\\"1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("pharos_listener_request_errors_total{listener=\"l\\\"1\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("pharos_member_responses_total{member=\"m1\",class=\"5xx\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("pharos_member_up{member=\"m1\",status=\"DOWN\"} 0\n"), std::string::npos);
  EXPECT_EQ(metrics::escape_label("a\\b\nc"), "a\\\\b\\nc");
}

TEST(Router, MatchesCapturesAndDistinguishes404From405) {
  api::Router router;
  router.add("PUT", "/v1/certificates/{id}", [](const api::ApiRequest&) { return api::ApiResponse{}; });
  auto m = router.match("PUT", "/v1/certificates/abc");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params["id"], "abc");
  EXPECT_EQ(router.match("GET", "/v1/certificates/abc").status, 405);
  EXPECT_EQ(router.match("PUT", "/v1/certificates/a/b").status, 404);
  EXPECT_EQ(router.match("PUT", "/v1/certificates").status, 404);
}

TEST(CertificateId, OnlySafeNames) {
  EXPECT_TRUE(is_safe_certificate_id("listener-1_tls.pem"));
  EXPECT_TRUE(is_safe_certificate_id(std::string(128, 'a')));
  EXPECT_FALSE(is_safe_certificate_id(std::string(129, 'a')));
  EXPECT_FALSE(is_safe_certificate_id(""));
  EXPECT_FALSE(is_safe_certificate_id(".."));
  EXPECT_FALSE(is_safe_certificate_id(".hidden"));
  EXPECT_FALSE(is_safe_certificate_id("a/b"));
  EXPECT_FALSE(is_safe_certificate_id("a\\b"));
  EXPECT_FALSE(is_safe_certificate_id("a b"));
}

}  // namespace
}  // namespace pharos::agent
