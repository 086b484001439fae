// The loader's L7 checks: each refusal names the JSON pointer of the field at fault.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/config/config_loader.h"

namespace pharos::config {
namespace {

using nlohmann::json;

const char* kPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const char* kKey = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";

// An HTTP listener with HTTP pools p1 (default) and p2, and TCP pool t1.
json base() {
  return json::parse(R"({
    "version": 1,
    "listeners": [
      {"id": "l1", "protocol": "HTTP", "bind_address": "127.0.0.1", "protocol_port": 8080,
       "default_pool_id": "p1"}
    ],
    "pools": [
      {"id": "p1", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
       "members": [{"id": "m1", "address": "10.0.0.1", "protocol_port": 80}]},
      {"id": "p2", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
       "members": [{"id": "m2", "address": "10.0.0.2", "protocol_port": 80}]},
      {"id": "t1", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN",
       "members": [{"id": "m3", "address": "10.0.0.3", "protocol_port": 80}]}
    ]
  })");
}

json path_rule(const std::string& compare = "STARTS_WITH", const std::string& value = "/api") {
  return {{"id", "r1"}, {"type", "PATH"}, {"compare_type", compare}, {"value", value}};
}

// `doc` with one policy on its first listener.
json with_policy(json policy, json doc = base()) {
  doc["listeners"][0]["l7policies"] = json::array({std::move(policy)});
  return doc;
}

json to_pool(const std::string& pool, json rule = path_rule()) {
  return {{"id", "pol1"}, {"action", "REDIRECT_TO_POOL"}, {"redirect_pool_id", pool},
          {"rules", json::array({std::move(rule)})}};
}

json https_base() {
  json doc = base();
  json& l = doc["listeners"][0];
  l["protocol"] = "TERMINATED_HTTPS";
  l["protocol_port"] = 8443;
  l["default_tls_container"] = {{"certificate", kPem}, {"private_key", kKey}};
  return doc;
}

// The message of the error at `path`; fails the test when there is none.
std::string error_at(const json& doc, const std::string& path) {
  LoadResult result = load_config(doc);
  for (const auto& e : result.errors) {
    if (e.path == path) return e.message;
  }
  ADD_FAILURE() << "no error at " << path << "; got:\n" << format_errors(result.errors);
  return {};
}

TEST(L7Config, ValidPoliciesConvert) {
  json doc = base();
  doc["listeners"][0]["l7policies"] = json::array({
      {{"id", "reject"}, {"action", "REJECT"}, {"position", 2},
       {"rules", json::array({{{"id", "r-hdr"}, {"type", "HEADER"}, {"key", "X-Bot"},
                               {"compare_type", "EQUAL_TO"}, {"value", "yes"}, {"invert", true}}})}},
      {{"id", "api"}, {"action", "REDIRECT_TO_POOL"}, {"redirect_pool_id", "p2"}, {"admin_state_up", false},
       {"rules", json::array({path_rule("REGEX", "^/api/v[0-9]+/"),
                              {{"id", "r-cookie"}, {"type", "COOKIE"}, {"key", "sid"},
                               {"compare_type", "CONTAINS"}, {"value", "x"}, {"admin_state_up", false}},
                              {{"id", "r-file"}, {"type", "FILE_TYPE"}, {"compare_type", "EQUAL_TO"},
                               {"value", ".png"}}})}},
      {{"id", "moved"}, {"action", "REDIRECT_TO_URL"}, {"redirect_url", "https://example.com/new"},
       {"redirect_http_code", 301},
       {"rules", json::array({{{"id", "r-host"}, {"type", "HOST_NAME"}, {"compare_type", "ENDS_WITH"},
                               {"value", ".example.org"}}})}},
      {{"id", "prefix"}, {"action", "REDIRECT_PREFIX"}, {"redirect_prefix", "https://example.com"},
       {"rules", json::array()}},
  });
  LoadResult result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  const auto& policies = result.config->listeners[0].l7policies;
  ASSERT_EQ(policies.size(), 4u);
  EXPECT_EQ(policies[0].action, L7Action::kReject);
  EXPECT_EQ(policies[0].position, 2u);
  ASSERT_EQ(policies[0].rules.size(), 1u);
  EXPECT_EQ(policies[0].rules[0].type, L7RuleType::kHeader);
  EXPECT_EQ(policies[0].rules[0].key, "X-Bot");
  EXPECT_TRUE(policies[0].rules[0].invert);
  EXPECT_EQ(policies[1].redirect_pool_id, "p2");
  EXPECT_FALSE(policies[1].admin_state_up);
  ASSERT_EQ(policies[1].rules.size(), 3u);
  EXPECT_EQ(policies[1].rules[0].compare_type, L7CompareType::kRegex);
  EXPECT_FALSE(policies[1].rules[1].admin_state_up);
  EXPECT_EQ(policies[2].redirect_http_code, 301);
  EXPECT_EQ(policies[2].redirect_url, "https://example.com/new");
  EXPECT_EQ(policies[3].redirect_http_code, 302);  // the default
  EXPECT_EQ(policies[3].redirect_prefix, "https://example.com");
}

TEST(L7Config, ClientCertificateRulesOnTerminatedHttpsConvert) {
  json doc = with_policy(to_pool("p2", {{"id", "r1"}, {"type", "SSL_DN_FIELD"}, {"key", "CN"},
                                       {"compare_type", "REGEX"}, {"value", "^client"}}),
                         https_base());
  doc["listeners"][0]["l7policies"][0]["rules"].push_back(
      {{"id", "r2"}, {"type", "SSL_CONN_HAS_CERT"}, {"compare_type", "EQUAL_TO"}, {"value", "True"}});
  doc["listeners"][0]["l7policies"][0]["rules"].push_back(
      {{"id", "r3"}, {"type", "SSL_VERIFY_RESULT"}, {"compare_type", "EQUAL_TO"}, {"value", "0"}});
  LoadResult result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_EQ(result.config->listeners[0].l7policies[0].rules[0].type, L7RuleType::kSslDnField);
}

TEST(L7Config, RegexMustBeRe2) {
  const std::string m = error_at(with_policy(to_pool("p2", path_rule("REGEX", "^(a)\\1$"))),
                                 "/listeners/0/l7policies/0/rules/0/value");
  EXPECT_NE(m.find("RE2"), std::string::npos) << m;
  error_at(with_policy(to_pool("p2", path_rule("REGEX", "(unclosed"))), "/listeners/0/l7policies/0/rules/0/value");
  error_at(with_policy(to_pool("p2", path_rule("REGEX", "(?=lookahead)"))),
           "/listeners/0/l7policies/0/rules/0/value");
  // Not a regex: the same text is fine for other compare types.
  EXPECT_TRUE(load_config(with_policy(to_pool("p2", path_rule("CONTAINS", "(unclosed")))).ok());
}

TEST(L7Config, ClientCertificateRulesNeedTerminatedHttps) {
  for (const char* type : {"SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT", "SSL_DN_FIELD"}) {
    json rule = {{"id", "r1"}, {"type", type}, {"compare_type", "EQUAL_TO"},
                 {"value", std::string(type) == "SSL_VERIFY_RESULT" ? "0" : "True"}};
    if (std::string(type) == "SSL_DN_FIELD") rule["key"] = "CN";
    const std::string m = error_at(with_policy(to_pool("p2", rule)), "/listeners/0/l7policies/0/rules/0/type");
    EXPECT_NE(m.find("TERMINATED_HTTPS"), std::string::npos) << m;
  }
}

TEST(L7Config, KeyedRulesNeedTheirKeyAndOthersRefuseIt) {
  json header = {{"id", "r1"}, {"type", "HEADER"}, {"compare_type", "EQUAL_TO"}, {"value", "x"}};
  std::string m = error_at(with_policy(to_pool("p2", header)), "/listeners/0/l7policies/0/rules/0/key");
  EXPECT_NE(m.find("header"), std::string::npos) << m;
  json cookie = header;
  cookie["type"] = "COOKIE";
  error_at(with_policy(to_pool("p2", cookie)), "/listeners/0/l7policies/0/rules/0/key");
  json path = path_rule();
  path["key"] = "X";
  error_at(with_policy(to_pool("p2", path)), "/listeners/0/l7policies/0/rules/0/key");
}

TEST(L7Config, CompareTypesEachRuleTypeTakes) {
  for (const char* compare : {"CONTAINS", "STARTS_WITH", "ENDS_WITH"}) {
    json rule = {{"id", "r1"}, {"type", "FILE_TYPE"}, {"compare_type", compare}, {"value", "png"}};
    const std::string m = error_at(with_policy(to_pool("p2", rule)), "/listeners/0/l7policies/0/rules/0/compare_type");
    EXPECT_NE(m.find("FILE_TYPE"), std::string::npos) << m;
  }
  json has_cert = {{"id", "r1"}, {"type", "SSL_CONN_HAS_CERT"}, {"compare_type", "REGEX"}, {"value", "True"}};
  error_at(with_policy(to_pool("p2", has_cert), https_base()), "/listeners/0/l7policies/0/rules/0/compare_type");
  has_cert["compare_type"] = "EQUAL_TO";
  has_cert["value"] = "False";
  error_at(with_policy(to_pool("p2", has_cert), https_base()), "/listeners/0/l7policies/0/rules/0/value");
  json verify = {{"id", "r1"}, {"type", "SSL_VERIFY_RESULT"}, {"compare_type", "EQUAL_TO"}, {"value", "OK"}};
  error_at(with_policy(to_pool("p2", verify), https_base()), "/listeners/0/l7policies/0/rules/0/value");
}

TEST(L7Config, RedirectPoolMustExistAndSpeakHttp) {
  std::string m = error_at(with_policy(to_pool("t1")), "/listeners/0/l7policies/0/redirect_pool_id");
  EXPECT_NE(m.find("TCP"), std::string::npos) << m;
  error_at(with_policy(to_pool("missing")), "/listeners/0/l7policies/0/redirect_pool_id");
}

TEST(L7Config, EachActionTakesItsOwnTarget) {
  json policy = to_pool("p2");
  policy.erase("redirect_pool_id");
  error_at(with_policy(policy), "/listeners/0/l7policies/0/redirect_pool_id");
  policy = to_pool("p2");
  policy["redirect_url"] = "https://example.com/";
  error_at(with_policy(policy), "/listeners/0/l7policies/0/redirect_url");
  policy = {{"id", "pol1"}, {"action", "REJECT"}, {"redirect_http_code", 301}, {"rules", json::array({path_rule()})}};
  error_at(with_policy(policy), "/listeners/0/l7policies/0/redirect_http_code");
  policy = {{"id", "pol1"}, {"action", "REDIRECT_PREFIX"}, {"rules", json::array({path_rule()})}};
  error_at(with_policy(policy), "/listeners/0/l7policies/0/redirect_prefix");
  policy = {{"id", "pol1"}, {"action", "REDIRECT_TO_URL"}, {"redirect_url", "not a url"}};
  error_at(with_policy(policy), "/listeners/0/l7policies/0/redirect_url");
}

TEST(L7Config, PoliciesOnlyOnHttpListeners) {
  json doc = with_policy(to_pool("p2"));
  doc["listeners"][0]["protocol"] = "TCP";
  doc["listeners"][0]["default_pool_id"] = "t1";
  const std::string m = error_at(doc, "/listeners/0/l7policies");
  EXPECT_NE(m.find("TCP"), std::string::npos) << m;
}

TEST(L7Config, PolicyAndRuleIdsAreUnique) {
  json doc = with_policy(to_pool("p2"));
  json second = to_pool("p2");
  second["rules"][0]["id"] = "r2";
  doc["listeners"][0]["l7policies"].push_back(second);
  error_at(doc, "/listeners/0/l7policies/1/id");
  second["id"] = "pol2";
  second["rules"][0]["id"] = "r1";
  doc["listeners"][0]["l7policies"][1] = second;
  error_at(doc, "/listeners/0/l7policies/1/rules/0/id");
}

}  // namespace
}  // namespace pharos::config
