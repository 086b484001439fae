// The request an h2 member gets, built in the version-neutral model from an HTTP/1.x or an
// HTTP/2 client request.
#include "engine/proxy/member_request.h"

#include <string>

#include <gtest/gtest.h>

#include "engine/http1/parser.h"
#include "engine/tls/client_context.h"

namespace pharos::proxy {
namespace {

std::string value(const http::RequestHead& head, const std::string& name) {
  std::string out;
  for (const auto& header : head.headers) {
    if (header.name == name) out += (out.empty() ? "" : ",") + header.value;
  }
  return out;
}

bool has(const http::RequestHead& head, const std::string& name) {
  for (const auto& header : head.headers) {
    if (header.name == name) return true;
  }
  return false;
}

class MemberRequestTest : public ::testing::Test {
 protected:
  MemberRequestTest() {
    listener_config_.insert_headers.x_forwarded_for = true;
    listener_config_.insert_headers.x_forwarded_proto = true;
    listener_.config = &listener_config_;
    listener_.port_text = "80";
  }
  config::Listener listener_config_;
  ListenerRuntime listener_;
  PoolRuntime pool_;
};

TEST_F(MemberRequestTest, Http1RequestBecomesVersionNeutral) {
  const std::string text =
      "POST /upload?x=1 HTTP/1.1\r\nHost: app.example\r\nConnection: keep-alive, X-Hop\r\n"
      "X-Hop: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 5\r\nX-Forwarded-Proto: spoofed\r\n"
      "Expect: 100-continue\r\nCookie: a=1\r\nUser-Agent: t\r\n\r\n";
  http1::RequestHead parsed;
  ASSERT_EQ(http1::parse_request_head(text, http1::Limits{}, &parsed).status, http1::ParseStatus::kComplete);
  http::RequestHead neutral = version_neutral_request(parsed);
  EXPECT_EQ(neutral.method, "POST");
  EXPECT_EQ(neutral.authority, "app.example");
  EXPECT_EQ(neutral.path, "/upload?x=1");
  EXPECT_EQ(neutral.content_length, 5);
  EXPECT_FALSE(has(neutral, "Connection"));
  EXPECT_FALSE(has(neutral, "X-Hop"));  // named by Connection
  EXPECT_FALSE(has(neutral, "Keep-Alive"));
  EXPECT_FALSE(has(neutral, "Host"));  // the authority

  http::RequestHead member = member_request_head(neutral, listener_, pool_, "192.0.2.7", {}, "10.0.0.5|80");
  EXPECT_EQ(member.scheme, "http");
  EXPECT_EQ(member.authority, "app.example");
  EXPECT_EQ(value(member, "content-length"), "5");
  EXPECT_EQ(value(member, "x-forwarded-for"), "192.0.2.7");
  EXPECT_EQ(value(member, "x-forwarded-proto"), "http");  // the client's own is replaced
  EXPECT_FALSE(has(member, "X-Forwarded-Proto"));
  EXPECT_EQ(value(member, "Expect"), "100-continue");  // the member's 100 crosses the exchange
  EXPECT_EQ(value(member, "Cookie"), "a=1");
}

TEST_F(MemberRequestTest, Http2RequestKeepsItsFieldsAndGetsTheMemberScheme) {
  http::RequestHead client;
  client.method = "GET";
  client.scheme = "http";
  client.authority = "app.example";
  client.path = "/";
  client.headers = {{"cookie", "a=1"}, {"cookie", "b=2"}, {"te", "trailers"}, {"content-length", "0"}};
  client.content_length = 0;
  auto tls = tls::ClientTlsContext::create(config::PoolTls{});
  ASSERT_TRUE(tls.ok());
  pool_.tls = tls.value();
  http::RequestHead member = member_request_head(client, listener_, pool_, "192.0.2.7", {{"X-SSL-Client-Verify", "0"}},
                                                 "10.0.0.5|80");
  EXPECT_EQ(member.scheme, "https");  // the pool re-encrypts
  EXPECT_EQ(value(member, "cookie"), "a=1,b=2");  // h2 keeps cookies split
  EXPECT_EQ(value(member, "te"), "trailers");  // the one TE h2 allows
  EXPECT_EQ(value(member, "content-length"), "0");
  EXPECT_EQ(value(member, "X-SSL-Client-Verify"), "0");
}

TEST_F(MemberRequestTest, AbsoluteFormTargetBecomesAuthorityAndPath) {
  const std::string text = "GET http://app.example:8080/a/b?c HTTP/1.1\r\nHost: app.example:8080\r\n\r\n";
  http1::RequestHead parsed;
  ASSERT_EQ(http1::parse_request_head(text, http1::Limits{}, &parsed).status, http1::ParseStatus::kComplete);
  http::RequestHead neutral = version_neutral_request(parsed);
  EXPECT_EQ(neutral.authority, "app.example:8080");
  EXPECT_EQ(neutral.path, "/a/b?c");
}

TEST_F(MemberRequestTest, MissingAuthorityFallsBack) {
  http::RequestHead client;
  client.method = "GET";
  client.path = "/";
  EXPECT_EQ(member_request_head(client, listener_, pool_, "192.0.2.7", {}, "10.0.0.5").authority, "10.0.0.5");
}

}  // namespace
}  // namespace pharos::proxy
