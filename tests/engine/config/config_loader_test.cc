#include "engine/config/config_loader.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pharos::config {
namespace {

using nlohmann::json;
using Paths = std::vector<std::string>;

Paths paths(const LoadResult& result) {
  Paths out;
  for (const auto& e : result.errors) out.push_back(e.path);
  return out;
}

std::string message_at(const LoadResult& result, const std::string& path) {
  for (const auto& e : result.errors) {
    if (e.path == path) return e.message;
  }
  return "(no error at " + path + ")";
}

// A minimal valid document that tests modify.
json base() {
  return json::parse(R"({
    "version": 1,
    "listeners": [
      {"id": "l1", "protocol": "HTTP", "bind_address": "127.0.0.1", "protocol_port": 8080,
       "default_pool_id": "p1"}
    ],
    "pools": [
      {"id": "p1", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
       "members": [{"id": "m1", "address": "10.0.0.1", "protocol_port": 80}]}
    ]
  })");
}

TEST(LoadConfig, HttpExample) {
  auto result = load_config_file("schema/examples/http-two-members.json");
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  const Config& c = *result.config;
  EXPECT_EQ(c.version, 1u);
  EXPECT_EQ(c.workers, 2u);
  ASSERT_EQ(c.listeners.size(), 1u);
  const Listener& l = c.listeners[0];
  EXPECT_EQ(l.protocol, ListenerProtocol::kHttp);
  EXPECT_EQ(l.bind_address, *IpAddress::parse("127.0.0.1"));
  EXPECT_EQ(l.protocol_port, 18480);
  EXPECT_EQ(l.connection_limit, -1);
  EXPECT_TRUE(l.insert_headers.x_forwarded_for);
  EXPECT_FALSE(l.insert_headers.x_forwarded_port);
  EXPECT_FALSE(l.insert_headers.x_forwarded_proto);
  const Pool* pool = c.find_pool(l.default_pool_id);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->protocol, PoolProtocol::kHttp);
  EXPECT_EQ(pool->lb_algorithm, LbAlgorithm::kRoundRobin);
  ASSERT_EQ(pool->members.size(), 2u);
  EXPECT_EQ(pool->members[0].protocol_port, 18481);
  EXPECT_EQ(pool->members[1].protocol_port, 18482);
  EXPECT_EQ(pool->members[1].address.text, "127.0.0.1");
  EXPECT_FALSE(pool->healthmonitor);
  EXPECT_EQ(c.find_pool("nope"), nullptr);
}

TEST(LoadConfig, TcpExample) {
  auto result = load_config_file("schema/examples/tcp-two-members.json");
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  const Listener& l = result.config->listeners[0];
  EXPECT_EQ(l.protocol, ListenerProtocol::kTcp);
  EXPECT_EQ(l.protocol_port, 18490);
  const Pool* pool = result.config->find_pool(l.default_pool_id);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->protocol, PoolProtocol::kTcp);
  EXPECT_EQ(pool->lb_algorithm, LbAlgorithm::kLeastConnections);
  EXPECT_EQ(pool->members.size(), 2u);
}

TEST(LoadConfig, EveryFieldConverts) {
  auto result = load_config_file("schema/examples/all-fields.json");
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  const Config& c = *result.config;
  EXPECT_EQ(c.version, 42u);
  EXPECT_EQ(c.amphora_id, "5c9a2b1e-6f0d-4a8e-9b3c-2d7e8f1a4b60");
  EXPECT_EQ(c.workers, 0u);
  EXPECT_EQ(c.http.max_header_bytes, 32768u);
  EXPECT_EQ(c.http.max_headers, 200u);
  EXPECT_EQ(c.records_socket, "/run/pharos/records.sock");

  const Listener& l = c.listeners.at(0);
  EXPECT_EQ(l.name, "all fields");
  EXPECT_EQ(l.protocol, ListenerProtocol::kHttp);
  EXPECT_FALSE(l.admin_state_up);
  EXPECT_EQ(l.connection_limit, 1000);
  EXPECT_EQ(l.timeout_client_data_ms, 30000u);
  EXPECT_EQ(l.timeout_member_connect_ms, 3000u);
  EXPECT_EQ(l.timeout_member_data_ms, 60000u);
  EXPECT_EQ(l.timeout_tcp_inspect_ms, 500u);
  ASSERT_EQ(l.allowed_cidrs.size(), 3u);
  EXPECT_EQ(l.allowed_cidrs[0].prefix_len, 8);
  EXPECT_EQ(l.allowed_cidrs[1].prefix_len, 32);
  EXPECT_EQ(l.allowed_cidrs[2].network.family, AF_INET6);
  EXPECT_TRUE(l.insert_headers.x_forwarded_for);     // true
  EXPECT_TRUE(l.insert_headers.x_forwarded_port);    // "True"
  EXPECT_FALSE(l.insert_headers.x_forwarded_proto);  // "false"
  EXPECT_EQ(l.default_pool_id, "pool-proxy");
  ASSERT_EQ(l.l7policies.size(), 4u);
  const L7Policy& reject = l.l7policies[0];
  EXPECT_EQ(reject.id, "l7-reject-bots");
  EXPECT_EQ(reject.name, "no bots");
  EXPECT_EQ(reject.action, L7Action::kReject);
  EXPECT_EQ(reject.position, 1u);
  ASSERT_EQ(reject.rules.size(), 1u);
  EXPECT_EQ(reject.rules[0].type, L7RuleType::kHeader);
  EXPECT_EQ(reject.rules[0].compare_type, L7CompareType::kContains);
  EXPECT_EQ(reject.rules[0].key, "User-Agent");
  EXPECT_EQ(reject.rules[0].value, "bot");
  const L7Policy& api = l.l7policies[1];
  EXPECT_EQ(api.action, L7Action::kRedirectToPool);
  EXPECT_EQ(api.redirect_pool_id, "pool-api");
  ASSERT_EQ(api.rules.size(), 3u);
  EXPECT_EQ(api.rules[0].type, L7RuleType::kHostName);
  EXPECT_EQ(api.rules[0].compare_type, L7CompareType::kRegex);
  EXPECT_EQ(api.rules[0].value, "^(api|www)\\.example\\.com$");
  EXPECT_TRUE(api.rules[2].invert);
  EXPECT_EQ(api.rules[2].type, L7RuleType::kCookie);
  const L7Policy& images = l.l7policies[2];
  EXPECT_EQ(images.action, L7Action::kRedirectPrefix);
  EXPECT_EQ(images.redirect_prefix, "https://cdn.example.com");
  EXPECT_EQ(images.redirect_http_code, 308);
  EXPECT_FALSE(images.rules[1].admin_state_up);
  const L7Policy& moved = l.l7policies[3];
  EXPECT_EQ(moved.action, L7Action::kRedirectToUrl);
  EXPECT_EQ(moved.redirect_url, "https://www.example.com/moved");
  EXPECT_EQ(moved.redirect_http_code, 301);
  EXPECT_FALSE(moved.admin_state_up);
  EXPECT_EQ(reject.redirect_http_code, 302);  // the default

  // Defaults for what the second listener leaves out.
  const Listener& bare = c.listeners.at(1);
  EXPECT_TRUE(bare.admin_state_up);
  EXPECT_EQ(bare.connection_limit, -1);
  EXPECT_EQ(bare.timeout_client_data_ms, 50000u);
  EXPECT_EQ(bare.default_pool_id, "");
  EXPECT_TRUE(bare.allowed_cidrs.empty());

  const Pool& pool = c.pools.at(0);
  EXPECT_EQ(pool.protocol, PoolProtocol::kHttp);
  EXPECT_EQ(pool.lb_algorithm, LbAlgorithm::kSourceIpPort);
  EXPECT_EQ(pool.connect_retries, 0u);
  const Member& v6 = pool.members.at(0);
  EXPECT_EQ(v6.address.family, AF_INET6);
  EXPECT_EQ(v6.weight, 0u);
  ASSERT_TRUE(v6.monitor_address);
  EXPECT_EQ(v6.monitor_address->text, "2001:db8::11");
  EXPECT_EQ(v6.monitor_port, 9090);
  const Member& backup = pool.members.at(1);
  EXPECT_TRUE(backup.backup);
  EXPECT_EQ(backup.weight, 256u);
  EXPECT_FALSE(backup.monitor_address);
  EXPECT_EQ(backup.monitor_port, 0);

  ASSERT_TRUE(pool.healthmonitor);
  const HealthMonitor& hm = *pool.healthmonitor;
  EXPECT_EQ(hm.id, "hm-http");
  EXPECT_EQ(hm.name, "http check");
  EXPECT_EQ(hm.type, "HTTP");
  EXPECT_EQ(hm.delay_s, 10u);
  EXPECT_EQ(hm.timeout_s, 10u);
  EXPECT_EQ(hm.max_retries, 3u);
  EXPECT_EQ(hm.max_retries_down, 2u);
  EXPECT_EQ(hm.http_method, "HEAD");
  EXPECT_EQ(hm.url_path, "/healthz?full=1");
  EXPECT_EQ(hm.expected_codes, "200-204");
  EXPECT_EQ(hm.http_version, "1.1");
  EXPECT_EQ(hm.domain_name, "app.example.com");

  ASSERT_TRUE(pool.session_persistence);
  EXPECT_EQ(pool.session_persistence->type, SessionPersistence::Type::kHttpCookie);
  EXPECT_EQ(pool.session_persistence->timeout_s, 0u);
  const Pool& api_pool = c.pools.at(2);
  ASSERT_TRUE(api_pool.session_persistence);
  EXPECT_EQ(api_pool.session_persistence->type, SessionPersistence::Type::kAppCookie);
  EXPECT_EQ(api_pool.session_persistence->cookie_name, "JSESSIONID");
  EXPECT_EQ(api_pool.session_persistence->timeout_s, 600u);

  const Pool& https = c.pools.at(1);
  ASSERT_TRUE(https.session_persistence);
  EXPECT_EQ(https.session_persistence->type, SessionPersistence::Type::kSourceIp);
  EXPECT_EQ(https.protocol, PoolProtocol::kHttps);
  EXPECT_EQ(https.lb_algorithm, LbAlgorithm::kSourceIp);
  EXPECT_EQ(https.healthmonitor->type, "TLS-HELLO");
  EXPECT_EQ(https.healthmonitor->max_retries_down, 3u);
}

TEST(LoadConfig, EveryExampleLoads) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("schema/examples")) {
    if (entry.path().extension() != ".json") continue;
    auto result = load_config_file(entry.path().string());
    EXPECT_TRUE(result.ok()) << entry.path() << "\n" << format_errors(result.errors);
    ++count;
  }
  EXPECT_GE(count, 3);
}

// The same files tests/schema/test_schema.py checks with python3-jsonschema: both sides must
// reject every one of them. The paths are what the engine reports.
TEST(LoadConfig, InvalidExamples) {
  const std::map<std::string, Paths> expected = {
      {"missing-version.json", {"/version"}},
      {"unknown-fields.json", {"/listeners/0/protocl", "/pools/0/members/0/subnet_id", "/verison"}},
      {"wrong-types.json",
       {"/listeners/0/admin_state_up", "/listeners/0/allowed_cidrs", "/listeners/0/id",
        "/listeners/0/protocol_port", "/pools", "/version", "/workers"}},
      {"out-of-range.json",
       {"/listeners/0/connection_limit", "/listeners/0/protocol_port",
        "/listeners/0/timeout_client_data", "/pools/0/healthmonitor/max_retries",
        "/pools/0/healthmonitor/max_retries_down", "/pools/0/members/0/protocol_port",
        "/pools/0/members/0/weight", "/version", "/workers"}},
      {"bad-enums.json",
       {"/listeners/0/insert_headers/X-Forwarded-For", "/listeners/0/protocol",
        "/pools/0/healthmonitor/expected_codes", "/pools/0/healthmonitor/http_method",
        "/pools/0/healthmonitor/http_version", "/pools/0/lb_algorithm"}},
      {"bad-strings.json",
       {"/listeners/0/allowed_cidrs/1", "/listeners/0/allowed_cidrs/2", "/listeners/0/bind_address",
        "/listeners/0/id", "/pools/0/healthmonitor/url_path", "/pools/0/id", "/records_socket"}},
      {"not-an-object.json", {""}},
  };
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("schema/examples/invalid")) {
    const std::string name = entry.path().filename().string();
    auto result = load_config_file(entry.path().string());
    EXPECT_FALSE(result.ok()) << name;
    EXPECT_EQ(result.config, nullptr) << name;
    ++count;
    auto it = expected.find(name);
    if (it == expected.end()) {
      ADD_FAILURE() << "no expected paths for " << name;
      continue;
    }
    Paths got = paths(result);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, it->second) << name << "\n" << format_errors(result.errors);
  }
  EXPECT_EQ(count, static_cast<int>(expected.size()));
}

// Documents the schema accepts (test_schema.py checks that) and the engine still rejects.
TEST(LoadConfig, SemanticInvalidExamples) {
  const std::map<std::string, Paths> expected = {
      {"duplicate-ids.json", {"/listeners/1/id", "/pools/1/id", "/pools/1/members/0/id"}},
      {"missing-pool.json", {"/listeners/0/default_pool_id"}},
      {"protocol-mismatch.json", {"/listeners/0/default_pool_id"}},
      {"shared-bind.json", {"/listeners/1/protocol_port"}},
      {"bad-addresses.json",
       {"/listeners/0/allowed_cidrs/0", "/listeners/0/allowed_cidrs/1", "/listeners/0/bind_address",
        "/pools/0/members/0/address", "/pools/0/members/0/monitor_address"}},
      {"monitor-timeout.json", {"/pools/0/healthmonitor/timeout"}},
      {"session-persistence.json",
       {"/pools/0/session_persistence/cookie_name", "/pools/1/session_persistence/cookie_name",
        "/pools/2/session_persistence/type"}},
      {"l7-policies.json",
       {"/listeners/0/l7policies/0/redirect_pool_id", "/listeners/0/l7policies/0/rules/0/value",
        "/listeners/0/l7policies/1/redirect_url", "/listeners/0/l7policies/1/rules/0/type",
        "/listeners/0/l7policies/1/rules/1/key", "/listeners/0/l7policies/1/rules/2/compare_type",
        "/listeners/1/l7policies"}},
  };
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("schema/examples/semantic-invalid")) {
    const std::string name = entry.path().filename().string();
    auto result = load_config_file(entry.path().string());
    EXPECT_FALSE(result.ok()) << name;
    ++count;
    auto it = expected.find(name);
    if (it == expected.end()) {
      ADD_FAILURE() << "no expected paths for " << name;
      continue;
    }
    Paths got = paths(result);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, it->second) << name << "\n" << format_errors(result.errors);
  }
  EXPECT_EQ(count, static_cast<int>(expected.size()));
}

TEST(LoadConfig, ParseErrorHasRootPathAndPosition) {
  auto result = load_config_json("{\"version\": 1,\n  \"listeners\": [}");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].path, "");
  EXPECT_NE(result.errors[0].message.find("line 2, column"), std::string::npos)
      << result.errors[0].message;
  EXPECT_EQ(result.errors[0].message.find("[json.exception"), std::string::npos);
  EXPECT_FALSE(load_config_json("").ok());
  EXPECT_FALSE(load_config_json("{} trailing").ok());
}

TEST(LoadConfig, MissingFile) {
  auto result = load_config_file("schema/examples/does-not-exist.json");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].path, "");
  EXPECT_NE(result.errors[0].message.find("does-not-exist.json"), std::string::npos);
}

TEST(LoadConfig, UnknownFieldIsNamed) {
  json doc = base();
  doc["pools"][0]["members"][0]["subnet_id"] = "x";
  auto result = load_config(doc);
  ASSERT_EQ(paths(result), Paths{"/pools/0/members/0/subnet_id"});
  EXPECT_EQ(result.errors[0].message, "unknown field \"subnet_id\"");
}

TEST(LoadConfig, WrongTypesSayWhatWasExpected) {
  json doc = base();
  doc["listeners"][0]["protocol_port"] = "8080";
  doc["listeners"][0]["admin_state_up"] = 1;
  auto result = load_config(doc);
  EXPECT_EQ(message_at(result, "/listeners/0/protocol_port"), "must be an integer, not a string");
  EXPECT_EQ(message_at(result, "/listeners/0/admin_state_up"), "must be a boolean, not an integer");
}

TEST(LoadConfig, IntegralFloatsAreIntegers) {
  json doc = base();
  doc["listeners"][0]["protocol_port"] = 8080.0;
  auto result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_EQ(result.config->listeners[0].protocol_port, 8080);
}

TEST(LoadConfig, ManyErrorsAtOnce) {
  json doc = base();
  doc.erase("version");
  doc["workers"] = -1;
  doc["listeners"][0]["protocol"] = "UDP";
  doc["listeners"][0]["bind_address"] = "::ffff:1.2.3.4.5";
  doc["listeners"][0]["default_pool_id"] = "p2";
  doc["listeners"][0]["allowed_cidrs"] = {"10.0.0.0/8", "10.0.0.0/40"};
  doc["pools"][0]["members"].push_back(
      {{"id", "m1"}, {"address", "10.0.0.2"}, {"protocol_port", 80}, {"weight", 300}});
  doc["pools"][0]["healthmonitor"] = {{"id", "h"},    {"type", "TCP"},    {"delay", 2},
                                      {"timeout", 3}, {"max_retries", 3}, {"url_path", "/"}};
  auto result = load_config(doc);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.config, nullptr);
  // Schema and semantic errors together, in document order (keys sorted, indexes numeric).
  EXPECT_EQ(paths(result), (Paths{
                               "/listeners/0/allowed_cidrs/1",     // semantic: /40
                               "/listeners/0/bind_address",        // semantic: not a literal
                               "/listeners/0/default_pool_id",     // semantic: no such pool
                               "/listeners/0/protocol",            // schema: enum
                               "/pools/0/healthmonitor/timeout",   // semantic: > delay
                               "/pools/0/healthmonitor/url_path",  // semantic: not an HTTP monitor
                               "/pools/0/members/1/id",            // semantic: duplicate id
                               "/pools/0/members/1/weight",        // schema: > 256
                               "/version",                         // schema: required
                               "/workers",                         // schema: < 0
                           }))
      << format_errors(result.errors);
  const std::string text = format_errors(result.errors);
  EXPECT_NE(text.find("/version: required field is missing\n"), std::string::npos) << text;
}

TEST(LoadConfig, ErrorsSortIndexesNumerically) {
  json doc = base();
  for (int i = 1; i <= 10; ++i) doc["pools"].push_back(doc["pools"][0]);
  doc["pools"][10]["lb_algorithm"] = "X";
  doc["pools"][2]["lb_algorithm"] = "X";
  EXPECT_EQ(paths(load_config(doc)),
            (Paths{"/pools/1/id",           "/pools/1/members/0/id", "/pools/2/id",
                   "/pools/2/lb_algorithm", "/pools/2/members/0/id", "/pools/3/id",
                   "/pools/3/members/0/id", "/pools/4/id",           "/pools/4/members/0/id",
                   "/pools/5/id",           "/pools/5/members/0/id", "/pools/6/id",
                   "/pools/6/members/0/id", "/pools/7/id",           "/pools/7/members/0/id",
                   "/pools/8/id",           "/pools/8/members/0/id", "/pools/9/id",
                   "/pools/9/members/0/id", "/pools/10/id",          "/pools/10/lb_algorithm",
                   "/pools/10/members/0/id"}));
}

TEST(LoadConfig, PatternErrorsSayWhatWasMeant) {
  json doc = base();
  doc["listeners"][0]["bind_address"] = "localhost";
  doc["records_socket"] = "records.sock";
  auto result = load_config(doc);
  EXPECT_EQ(message_at(result, "/listeners/0/bind_address"),
            "\"localhost\" is not an IPv4 or IPv6 address");
  EXPECT_EQ(message_at(result, "/records_socket"), "\"records.sock\" is not an absolute path");
}

TEST(LoadConfig, SchemaErrorsAreNotRepeatedAsDerivedErrors) {
  json doc = base();
  // The pool's id breaks the schema; the listener naming it must not add "no pool has id".
  doc["pools"][0]["id"] = std::string(65, 'p');
  doc["listeners"][0]["default_pool_id"] = std::string(65, 'p');
  EXPECT_EQ(paths(load_config(doc)), (Paths{"/listeners/0/default_pool_id", "/pools/0/id"}));

  doc = base();
  doc["pools"][0]["id"] = 5;
  EXPECT_EQ(paths(load_config(doc)), (Paths{"/pools/0/id"}));

  doc = base();
  doc["pools"] = {{"p1", {}}};  // an object, not an array
  EXPECT_EQ(paths(load_config(doc)), (Paths{"/pools"}));

  doc = base();
  doc["pools"][0] = "p1";
  EXPECT_EQ(paths(load_config(doc)), (Paths{"/pools/0"}));

  doc = base();
  doc["listeners"][0]["bind_address"] = "localhost";  // pattern error only, not also "not an IP"
  EXPECT_EQ(paths(load_config(doc)), (Paths{"/listeners/0/bind_address"}));
}

TEST(LoadConfig, ProtocolPairsFollowOctavia) {
  const std::map<std::string, std::vector<std::string>> allowed = {
      {"HTTP", {"HTTP", "PROXY"}},
      {"TERMINATED_HTTPS", {"HTTP", "PROXY"}},
      {"TCP", {"TCP", "HTTP", "HTTPS", "PROXY"}},
      {"HTTPS", {"HTTPS", "TCP", "PROXY"}},
  };
  for (const auto& [listener, pools] : allowed) {
    for (const char* pool : {"HTTP", "HTTPS", "TCP", "PROXY"}) {
      json doc = base();
      doc["listeners"][0]["protocol"] = listener;
      doc["pools"][0]["protocol"] = pool;
      auto result = load_config(doc);
      bool pair_ok = std::find(pools.begin(), pools.end(), pool) != pools.end();
      // The PROXY protocol is refused until the engine implements it; a TERMINATED_HTTPS
      // listener needs its certificate.
      std::set<std::string> expected;
      if (!pair_ok) expected.insert("/listeners/0/default_pool_id");
      if (listener == "TERMINATED_HTTPS") expected.insert("/listeners/0/default_tls_container");
      if (std::string(pool) == "PROXY") expected.insert("/pools/0/protocol");
      Paths got = paths(result);
      EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), expected)
          << listener << " -> " << pool << "\n" << format_errors(result.errors);
      EXPECT_EQ(result.ok(), expected.empty());
    }
  }
}

TEST(LoadConfig, UnimplementedProtocolsAreRefusedWithAReason) {
  json doc = base();
  doc["pools"][0]["protocol"] = "PROXY";
  auto result = load_config(doc);
  EXPECT_EQ(message_at(result, "/pools/0/protocol"),
            "PROXY pools (the PROXY protocol towards members) are not supported by this engine yet");
}

TEST(LoadConfig, ProtocolMismatchMessage) {
  json doc = base();
  doc["pools"][0]["protocol"] = "TCP";
  EXPECT_EQ(message_at(load_config(doc), "/listeners/0/default_pool_id"),
            "HTTP listeners cannot use TCP pool \"p1\"; they take HTTP or PROXY pools");
}

TEST(LoadConfig, DuplicateIdsNameTheFirstUse) {
  json doc = base();
  doc["pools"].push_back(
      {{"id", "p2"},
       {"protocol", "HTTP"},
       {"lb_algorithm", "ROUND_ROBIN"},
       {"members", {{{"id", "m1"}, {"address", "10.0.0.9"}, {"protocol_port", 80}}}}});
  auto result = load_config(doc);
  ASSERT_EQ(paths(result), Paths{"/pools/1/members/0/id"});
  EXPECT_EQ(result.errors[0].message,
            "duplicate member id \"m1\" (first used at /pools/0/members/0/id)");
}

TEST(LoadConfig, IdsAreScopedByKind) {
  json doc = base();
  doc["listeners"][0]["id"] = "same";
  doc["pools"][0]["id"] = "same";
  doc["listeners"][0]["default_pool_id"] = "same";
  doc["pools"][0]["members"][0]["id"] = "same";
  EXPECT_TRUE(load_config(doc).ok());
}

TEST(LoadConfig, BindConflicts) {
  json doc = base();
  doc["listeners"].push_back(
      {{"id", "l2"}, {"protocol", "TCP"}, {"bind_address", "127.0.0.1"}, {"protocol_port", 8080}});
  auto result = load_config(doc);
  ASSERT_EQ(paths(result), Paths{"/listeners/1/protocol_port"});
  EXPECT_EQ(result.errors[0].message, "listener at /listeners/0 already binds 127.0.0.1 port 8080");

  // Another port, or another address, is fine.
  doc["listeners"][1]["protocol_port"] = 8081;
  EXPECT_TRUE(load_config(doc).ok());
  doc["listeners"][1]["protocol_port"] = 8080;
  doc["listeners"][1]["bind_address"] = "127.0.0.2";
  EXPECT_TRUE(load_config(doc).ok());
}

TEST(LoadConfig, DuplicateMemberEndpointInAPool) {
  json doc = base();
  doc["pools"][0]["members"].push_back(
      {{"id", "m2"}, {"address", "10.0.0.1"}, {"protocol_port", 80}});
  EXPECT_EQ(paths(load_config(doc)), Paths{"/pools/0/members/1/address"});
  doc["pools"][0]["members"][1]["protocol_port"] = 81;
  EXPECT_TRUE(load_config(doc).ok());
}

TEST(LoadConfig, AddressesAndCidrs) {
  json doc = base();
  doc["listeners"][0]["bind_address"] = "::";
  doc["listeners"][0]["allowed_cidrs"] = {"::ffff:10.0.0.0/104", "fe80::/10", "0.0.0.0/0"};
  doc["pools"][0]["members"][0]["address"] = "fd00::1";
  doc["pools"][0]["members"][0]["monitor_address"] = "10.1.1.1";
  auto result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  const Listener& l = result.config->listeners[0];
  EXPECT_EQ(l.bind_address.family, AF_INET6);
  ASSERT_EQ(l.allowed_cidrs.size(), 3u);
  // Written as IPv4-mapped IPv6, kept as the IPv4 block it means, so IPv4 peers match it.
  EXPECT_EQ(l.allowed_cidrs[0].network.family, AF_INET);
  EXPECT_EQ(l.allowed_cidrs[0].prefix_len, 8);
  EXPECT_EQ(l.allowed_cidrs[0].network.text, "::ffff:10.0.0.0/104");
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_addr.s_addr = htonl(0x0a010203);  // 10.1.2.3
  EXPECT_TRUE(l.allowed_cidrs[0].contains(reinterpret_cast<const sockaddr*>(&peer)));
  EXPECT_FALSE(l.allowed_cidrs[1].contains(reinterpret_cast<const sockaddr*>(&peer)));
  EXPECT_EQ(l.allowed_cidrs[2].prefix_len, 0);
  EXPECT_EQ(result.config->pools[0].members[0].address.family, AF_INET6);
  EXPECT_EQ(result.config->pools[0].members[0].monitor_address->family, AF_INET);

  doc["listeners"][0]["allowed_cidrs"] = {"10.0.0.0/8", "10.0.0.0/33", "1::/200"};
  result = load_config(doc);
  EXPECT_EQ(paths(result), (Paths{"/listeners/0/allowed_cidrs/1", "/listeners/0/allowed_cidrs/2"}));
  EXPECT_EQ(message_at(result, "/listeners/0/allowed_cidrs/1"),
            "\"10.0.0.0/33\" is not an IPv4 or IPv6 CIDR block");
}

TEST(LoadConfig, ConnectionLimit) {
  for (int64_t value : {int64_t{-1}, int64_t{1}, int64_t{2147483647}}) {
    json doc = base();
    doc["listeners"][0]["connection_limit"] = value;
    EXPECT_TRUE(load_config(doc).ok()) << value;
  }
  for (int64_t value : {int64_t{0}, int64_t{-2}, int64_t{2147483648}}) {
    json doc = base();
    doc["listeners"][0]["connection_limit"] = value;
    EXPECT_EQ(paths(load_config(doc)), Paths{"/listeners/0/connection_limit"}) << value;
  }
}

TEST(LoadConfig, InsertHeadersOnlyOnHttpListeners) {
  json doc = base();
  doc["listeners"][0]["protocol"] = "TCP";
  doc["listeners"][0]["insert_headers"] = {{"X-Forwarded-For", "true"}};
  EXPECT_EQ(paths(load_config(doc)), Paths{"/listeners/0/insert_headers"});
  doc["listeners"][0]["insert_headers"] = json::object();
  EXPECT_TRUE(load_config(doc).ok());
  doc["listeners"][0]["protocol"] = "HTTP";
  doc["listeners"][0]["insert_headers"] = {{"X-Forwarded-Proto", false},
                                           {"X-Forwarded-For", "False"}};
  auto result = load_config(doc);
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result.config->listeners[0].insert_headers.x_forwarded_for);
  EXPECT_FALSE(result.config->listeners[0].insert_headers.x_forwarded_proto);
}

TEST(LoadConfig, HealthMonitorRules) {
  auto with_monitor = [](json monitor) {
    json doc = base();
    monitor["id"] = "hm";
    if (!monitor.contains("delay")) monitor["delay"] = 5;
    if (!monitor.contains("timeout")) monitor["timeout"] = 5;
    monitor["max_retries"] = 3;
    doc["pools"][0]["healthmonitor"] = monitor;
    return load_config(doc);
  };
  EXPECT_TRUE(with_monitor({{"type", "TCP"}}).ok());
  EXPECT_TRUE(with_monitor({{"type", "PING"}, {"delay", 3}, {"timeout", 3}}).ok());
  EXPECT_EQ(paths(with_monitor({{"type", "PING"}, {"delay", 3}, {"timeout", 4}})),
            Paths{"/pools/0/healthmonitor/timeout"});
  EXPECT_EQ(paths(with_monitor({{"type", "UDP-CONNECT"}})), Paths{"/pools/0/healthmonitor/type"});
  EXPECT_EQ(paths(with_monitor({{"type", "SCTP"}})), Paths{"/pools/0/healthmonitor/type"});
  EXPECT_EQ(paths(with_monitor({{"type", "TLS-HELLO"}, {"expected_codes", "200"}})),
            Paths{"/pools/0/healthmonitor/expected_codes"});
  EXPECT_EQ(paths(with_monitor({{"type", "HTTP"}, {"expected_codes", "204-200"}})),
            Paths{"/pools/0/healthmonitor/expected_codes"});
  EXPECT_EQ(
      paths(with_monitor({{"type", "HTTP"}, {"domain_name", "a.example"}, {"http_version", 1.0}})),
      Paths{"/pools/0/healthmonitor/domain_name"});
  auto result = with_monitor({{"type", "HTTPS"},
                              {"http_version", "1.0"},
                              {"url_path", "/x"},
                              {"expected_codes", "200,301"}});
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_EQ(result.config->pools[0].healthmonitor->http_version, "1.0");
  EXPECT_EQ(with_monitor({{"type", "HTTP"}, {"http_version", 1}})
                .config->pools[0]
                .healthmonitor->http_version,
            "1.0");
}

TEST(LoadConfig, EmptyDocumentNeedsOnlyAVersion) {
  auto result = load_config_json(R"({"version": 3})");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.config->version, 3u);
  EXPECT_TRUE(result.config->listeners.empty());
  EXPECT_EQ(result.config->http.max_header_bytes, 16384u);
}

// ---- TLS ----

const char* kPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const char* kKey = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";

json https_base() {
  json doc = base();
  json& l = doc["listeners"][0];
  l["protocol"] = "TERMINATED_HTTPS";
  l["protocol_port"] = 8443;
  l["default_tls_container"] = {{"certificate", kPem}, {"private_key", kKey}};
  return doc;
}

TEST(LoadConfigTls, TerminatedHttpsListenerConverts) {
  json doc = https_base();
  json& l = doc["listeners"][0];
  l["default_tls_container"]["intermediates"] = {kPem};
  l["sni_containers"] = {{{"id", "ecdsa"}, {"file", "/etc/pharos/certs/a.pem"}},
                         {{"certificate", kPem}, {"private_key", kKey}}};
  l["tls_versions"] = {"TLSv1.2", "TLSv1.3"};
  l["tls_ciphers"] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
  l["alpn_protocols"] = {"h2", "http/1.1"};
  l["client_authentication"] = "OPTIONAL";
  l["client_ca_tls_container"] = kPem;
  l["client_crl_container"] = "-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n";
  l["hsts_max_age"] = 31536000;
  l["hsts_include_subdomains"] = true;
  l["insert_headers"] = {{"X-SSL-Client-CN", "true"}, {"X-SSL-Issuer", true}, {"X-Forwarded-Proto", true}};
  doc["tls"] = {{"ticket_key_rotation_s", 600}, {"session_cache_size", 0}};
  auto result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  const Listener& listener = result.config->listeners[0];
  ASSERT_TRUE(listener.tls.has_value());
  const ListenerTls& tls = *listener.tls;
  EXPECT_EQ(tls.path, "/listeners/0");
  EXPECT_EQ(tls.default_container.certificate, kPem);
  EXPECT_EQ(tls.default_container.intermediates.size(), 1u);
  EXPECT_EQ(tls.default_container.path, "/listeners/0/default_tls_container");
  ASSERT_EQ(tls.sni_containers.size(), 2u);
  EXPECT_EQ(tls.sni_containers[0].file, "/etc/pharos/certs/a.pem");
  EXPECT_EQ(tls.sni_containers[0].id, "ecdsa");
  EXPECT_EQ(tls.sni_containers[1].path, "/listeners/0/sni_containers/1");
  EXPECT_EQ(tls.versions, kTls12 | kTls13);
  EXPECT_EQ(tls.alpn_protocols, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(tls.client_authentication, ClientAuthentication::kOptional);
  EXPECT_FALSE(tls.client_crl_pem.empty());
  EXPECT_TRUE(listener.hsts.enabled);
  EXPECT_EQ(listener.hsts.max_age_s, 31536000u);
  EXPECT_TRUE(listener.hsts.include_subdomains);
  EXPECT_FALSE(listener.hsts.preload);
  EXPECT_TRUE(listener.insert_headers.x_ssl_client_cn);
  EXPECT_TRUE(listener.insert_headers.x_ssl_issuer);
  EXPECT_FALSE(listener.insert_headers.x_ssl_client_dn);
  EXPECT_TRUE(listener.insert_headers.any_client_certificate_header());
  EXPECT_EQ(result.config->tls.ticket_key_rotation_s, 600u);
  EXPECT_EQ(result.config->tls.session_cache_size, 0u);
  EXPECT_EQ(result.config->tls.session_timeout_s, 300u);
  EXPECT_FALSE(result.config->listeners[0].h2c);
}

TEST(LoadConfigTls, DefaultsAreSecure) {
  auto result = load_config(https_base());
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  const ListenerTls& tls = *result.config->listeners[0].tls;
  EXPECT_EQ(tls.versions, kDefaultTlsVersions);
  EXPECT_TRUE(tls.ciphers.empty());
  EXPECT_EQ(tls.client_authentication, ClientAuthentication::kNone);
  EXPECT_FALSE(result.config->listeners[0].hsts.enabled);
}

TEST(LoadConfigTls, TlsFieldsOnlyOnTerminatedHttps) {
  json doc = base();
  json& l = doc["listeners"][0];
  l["default_tls_container"] = {{"certificate", kPem}, {"private_key", kKey}};
  l["tls_versions"] = {"TLSv1.3"};
  l["hsts_max_age"] = 10;
  l["insert_headers"] = {{"X-SSL-Client-DN", true}};
  auto result = load_config(doc);
  EXPECT_EQ(paths(result),
            (Paths{"/listeners/0/default_tls_container", "/listeners/0/hsts_max_age",
                   "/listeners/0/insert_headers/X-SSL-Client-DN", "/listeners/0/tls_versions"}));
  EXPECT_EQ(message_at(result, "/listeners/0/tls_versions"),
            "tls_versions applies only to TERMINATED_HTTPS listeners, not HTTP");
}

TEST(LoadConfigTls, SemanticErrorsNameTheField) {
  json doc = https_base();
  json& l = doc["listeners"][0];
  l.erase("default_tls_container");
  l["sni_containers"] = {{{"certificate", kPem}},
                         {{"file", "/a.pem"}, {"certificate", kPem}, {"private_key", kKey}},
                         {{"file", "relative.pem"}}};
  l["tls_versions"] = {"SSLv3", "TLSv1.2"};
  l["client_authentication"] = "MANDATORY";
  l["client_crl_container"] = kPem;
  l["hsts_preload"] = true;
  l["h2c"] = true;
  auto result = load_config(doc);
  EXPECT_EQ(paths(result),
            (Paths{"/listeners/0/client_authentication", "/listeners/0/client_crl_container",
                   "/listeners/0/default_tls_container", "/listeners/0/h2c",
                   "/listeners/0/hsts_preload", "/listeners/0/sni_containers/0/private_key",
                   "/listeners/0/sni_containers/1/file", "/listeners/0/sni_containers/2/file",
                   "/listeners/0/tls_versions/0"}))
      << format_errors(result.errors);
  EXPECT_EQ(message_at(result, "/listeners/0/client_authentication"),
            "client_authentication MANDATORY needs client_ca_tls_container (the CA that signs "
            "client certificates)");
  EXPECT_EQ(message_at(result, "/listeners/0/sni_containers/2/file"),
            "\"relative.pem\" is relative; only a config loaded from a file may use relative paths");
}

TEST(LoadConfigTls, RelativeCertificatePathsResolveAgainstTheConfigFile) {
  json doc = https_base();
  doc["listeners"][0]["default_tls_container"] = {{"file", "certs/server.pem"}};
  LoadOptions options;
  options.base_directory = "/srv/pharos";
  auto result = load_config(doc, options);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_EQ(result.config->listeners[0].tls->default_container.file, "/srv/pharos/certs/server.pem");
  EXPECT_EQ(options_for_file("x.json").base_directory, ".");
  EXPECT_EQ(options_for_file("/x.json").base_directory, "/");
  EXPECT_EQ(options_for_file("a/b/x.json").base_directory, "a/b");
}

TEST(LoadConfigTls, PoolReencryption) {
  json doc = base();
  json& p = doc["pools"][0];
  p["tls_enabled"] = true;
  p["ca_tls_container"] = kPem;
  p["tls_container"] = {{"certificate", kPem}, {"private_key", kKey}};
  p["alpn_protocols"] = {"http/1.1"};
  p["tls_versions"] = {"TLSv1.3"};
  auto result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  const Pool& pool = result.config->pools[0];
  ASSERT_TRUE(pool.tls.has_value());
  EXPECT_EQ(pool.tls->ca_pem, kPem);
  ASSERT_TRUE(pool.tls->client_certificate.has_value());
  EXPECT_EQ(pool.tls->client_certificate->path, "/pools/0/tls_container");
  EXPECT_EQ(pool.tls->versions, kTls13);

  p["tls_enabled"] = false;  // kept for later, not used
  p["crl_container"] = kPem;
  p.erase("ca_tls_container");
  result = load_config(doc);
  EXPECT_EQ(paths(result), (Paths{"/pools/0/crl_container"}));

  json h2 = base();
  h2["pools"][0]["tls_enabled"] = true;
  h2["pools"][0]["alpn_protocols"] = {"http/1.1", "h2"};
  result = load_config(h2);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_EQ(result.config->pools[0].member_http, MemberHttp::kH2Negotiated);
  EXPECT_EQ(result.config->pools[0].tls->alpn_protocols, (std::vector<std::string>{"http/1.1", "h2"}));

  json tcp = base();
  tcp["listeners"][0]["protocol"] = "TCP";
  tcp["pools"][0]["protocol"] = "TCP";
  tcp["pools"][0]["tls_enabled"] = true;
  EXPECT_EQ(paths(load_config(tcp)), (Paths{"/pools/0/tls_enabled"}));
}

TEST(LoadConfigTls, MemberHttpVersionFromAlpnProtocols) {
  json doc = base();
  auto result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_EQ(result.config->pools[0].member_http, MemberHttp::kHttp1);  // the default

  // No TLS: h2 first is h2c with prior knowledge; h2 later keeps HTTP/1.1 (the member's
  // preference cannot be negotiated without ALPN).
  doc["pools"][0]["alpn_protocols"] = {"h2", "http/1.1"};
  result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_EQ(result.config->pools[0].member_http, MemberHttp::kH2PriorKnowledge);
  EXPECT_FALSE(result.config->pools[0].tls.has_value());
  doc["pools"][0]["alpn_protocols"] = {"http/1.1", "h2"};
  result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_EQ(result.config->pools[0].member_http, MemberHttp::kHttp1);

  // TLS: ALPN decides; no h2 offered means HTTP/1.1.
  doc["pools"][0]["tls_enabled"] = true;
  doc["pools"][0]["alpn_protocols"] = {"h2"};
  result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_EQ(result.config->pools[0].member_http, MemberHttp::kH2Negotiated);
  doc["pools"][0]["alpn_protocols"] = {"http/1.1"};
  result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_EQ(result.config->pools[0].member_http, MemberHttp::kHttp1);

  // h2 needs an HTTP pool.
  json tcp = base();
  tcp["listeners"][0]["protocol"] = "TCP";
  tcp["pools"][0]["protocol"] = "TCP";
  tcp["pools"][0]["alpn_protocols"] = {"h2"};
  EXPECT_EQ(paths(load_config(tcp)), (Paths{"/pools/0/alpn_protocols/0"}));
}

TEST(LoadConfigTls, H2cOnHttpListenersAndHttp2Limits) {
  json doc = base();
  doc["listeners"][0]["h2c"] = true;
  doc["http2"] = {{"max_concurrent_streams", 50}, {"max_resets_per_second", 10}};
  auto result = load_config(doc);
  ASSERT_TRUE(result.ok()) << format_errors(result.errors);
  EXPECT_TRUE(result.config->listeners[0].h2c);
  EXPECT_EQ(result.config->http2.max_concurrent_streams, 50u);
  EXPECT_EQ(result.config->http2.max_resets_per_second, 10u);
  EXPECT_EQ(result.config->http2.header_table_bytes, 4096u);

  doc["http2"]["max_concurrent_streams"] = 0;
  doc["listeners"][0]["protocol"] = "TCP";
  doc["pools"][0]["protocol"] = "TCP";
  EXPECT_EQ(paths(load_config(doc)), (Paths{"/http2/max_concurrent_streams", "/listeners/0/h2c"}));
}

TEST(FormatErrors, OneLinePerError) {
  EXPECT_EQ(format_errors({{"", "invalid JSON"}, {"/listeners/0/id", "must not be empty"}}),
            "(root): invalid JSON\n/listeners/0/id: must not be empty\n");
  EXPECT_EQ(format_errors({}), "");
}

}  // namespace
}  // namespace pharos::config
