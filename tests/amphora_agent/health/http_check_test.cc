#include "amphora_agent/health/http_check.h"

#include <gtest/gtest.h>

namespace pharos::health {
namespace {

TEST(HttpCheck, Http11DefaultsHostToMemberAddress) {
  HealthMonitor m;
  m.http_method = "HEAD";
  m.url_path = "/healthz";
  EXPECT_EQ(http_host_header(m, "10.0.0.5", false), "10.0.0.5");
  EXPECT_EQ(http_host_header(m, "fd00::5", true), "[fd00::5]");
  std::string request = build_http_request(m, http_host_header(m, "10.0.0.5", false));
  EXPECT_EQ(request.rfind("HEAD /healthz HTTP/1.1\r\nHost: 10.0.0.5\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(request.substr(request.size() - 4), "\r\n\r\n");
}

TEST(HttpCheck, DomainNameWins) {
  HealthMonitor m;
  m.domain_name = "app.example.com";
  EXPECT_EQ(http_host_header(m, "10.0.0.5", false), "app.example.com");
  m.http_version = "1.0";
  EXPECT_EQ(http_host_header(m, "10.0.0.5", false), "app.example.com");
}

TEST(HttpCheck, Http10WithoutDomainSendsNoHost) {
  HealthMonitor m;
  m.http_version = "1.0";
  EXPECT_EQ(http_host_header(m, "10.0.0.5", false), "");
  std::string request = build_http_request(m, "");
  EXPECT_EQ(request.rfind("GET / HTTP/1.0\r\n", 0), 0u);
  EXPECT_EQ(request.find("Host:"), std::string::npos);
}

TEST(HttpCheck, StatusLine) {
  int code = 0;
  EXPECT_EQ(parse_http_status_line("HTTP/1.1 204 No Content\r\n", &code), StatusLineParse::kComplete);
  EXPECT_EQ(code, 204);
  EXPECT_EQ(parse_http_status_line("HTTP/1.0 503\r\n", &code), StatusLineParse::kComplete);
  EXPECT_EQ(code, 503);
  EXPECT_EQ(parse_http_status_line("HTTP/1.1 200 OK\n", &code), StatusLineParse::kComplete);
  EXPECT_EQ(parse_http_status_line("HTT", &code), StatusLineParse::kNeedMore);
  EXPECT_EQ(parse_http_status_line("HTTP/1.1 200 O", &code), StatusLineParse::kNeedMore);
  EXPECT_EQ(parse_http_status_line("SSH-2.0-OpenSSH\r\n", &code), StatusLineParse::kMalformed);
  EXPECT_EQ(parse_http_status_line("HTTP/1.1 2x0 OK\r\n", &code), StatusLineParse::kMalformed);
  EXPECT_EQ(parse_http_status_line("HTTP/1.1 2000 OK\r\n", &code), StatusLineParse::kMalformed);
  EXPECT_EQ(parse_http_status_line("HTTP/1.1 " + std::string(9000, 'x'), &code), StatusLineParse::kMalformed);
}

TEST(HttpCheck, RejectsInjection) {
  EXPECT_TRUE(valid_http_method("GET"));
  EXPECT_FALSE(valid_http_method("GET /x HTTP/1.1\r\n"));
  EXPECT_FALSE(valid_http_method(""));
  EXPECT_TRUE(valid_url_path("/health?x=1"));
  EXPECT_FALSE(valid_url_path("health"));
  EXPECT_FALSE(valid_url_path("/a b"));
  EXPECT_FALSE(valid_url_path("/a\r\nX: y"));
  EXPECT_FALSE(valid_domain_name("a\r\nb"));
}

}  // namespace
}  // namespace pharos::health
