// Octavia L7 policies end to end: the real engine routes, rejects and redirects requests by
// their path, host, headers, cookies and client certificate, over HTTP/1.1, h2c and
// TERMINATED_HTTPS, and picks up changed policies from a config apply.
#include <map>
#include <string>
#include <vector>

#include "tests/engine/integration/harness.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::itest {
namespace {

using tls::test::test_pki;

json rule(const std::string& type, const std::string& compare, const std::string& value,
          const std::string& key = "", bool invert = false) {
  static int next_id = 0;
  json r = {{"id", "rule-" + std::to_string(++next_id)}, {"type", type}, {"compare_type", compare},
            {"value", value}};
  if (!key.empty()) r["key"] = key;
  if (invert) r["invert"] = true;
  return r;
}

json to_pool2(const std::string& id, int position, json rules) {
  return {{"id", id}, {"action", "REDIRECT_TO_POOL"}, {"redirect_pool_id", "pool2"},
          {"position", position}, {"rules", std::move(rules)}};
}

// The policies most tests use: /api and API hosts and the gold tier to pool2 (m2), X-Block
// rejected, /old moved to a fixed URL, /mirror redirected under another prefix.
json routing_policies() {
  return json::array({
      to_pool2("api", 1, {rule("PATH", "STARTS_WITH", "/api")}),
      to_pool2("api-host", 2, {rule("HOST_NAME", "REGEX", "^api\\.example\\.(com|net)$")}),
      to_pool2("gold", 3, {rule("COOKIE", "EQUAL_TO", "gold", "tier")}),
      {{"id", "deny"}, {"action", "REJECT"}, {"position", 9},
       {"rules", {rule("HEADER", "EQUAL_TO", "yes", "X-Block")}}},
      {{"id", "moved"}, {"action", "REDIRECT_TO_URL"}, {"redirect_url", "https://new.example.com/landing"},
       {"redirect_http_code", 301}, {"rules", {rule("PATH", "EQUAL_TO", "/old")}}},
      {{"id", "mirror"}, {"action", "REDIRECT_PREFIX"}, {"redirect_prefix", "https://mirror.example.com"},
       {"rules", {rule("PATH", "STARTS_WITH", "/mirror")}}},
  });
}

class L7Test : public IntegrationTest {
 protected:
  // m1 alone in the listener's default pool "pool", m2 alone in "pool2"; `policies` on the
  // listener; `adjust` edits the config further.
  HttpSetup start_l7_setup(const json& policies, const std::function<void(json&)>& adjust = {}) {
    return start_http_setup("ROUND_ROBIN", [&](json& config) {
      json m2 = config["pools"][0]["members"][1];
      config["pools"][0]["members"].erase(1);
      config["pools"].push_back(pool_json("pool2", "ROUND_ROBIN", json::array({m2})));
      config["listeners"][0]["l7policies"] = policies;
      if (adjust) adjust(config);
    });
  }

  // One HTTP/1.1 request on a fresh connection: `head_lines` go after the request line.
  HttpResponse request(uint16_t port, const std::string& target, const std::string& head_lines = "Host: localhost\r\n") {
    HttpConnection c(port);
    EXPECT_TRUE(c.connected());
    EXPECT_TRUE(c.send("GET " + target + " HTTP/1.1\r\n" + head_lines + "Connection: close\r\n\r\n"));
    return c.read_response();
  }

  // curl, h2c with prior knowledge, response headers included (-D -), status on the last line.
  RunResult curl_h2(uint16_t port, const std::string& target, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "10", "--http2-prior-knowledge",
                                  "-D", "-", "-w", "\n%{http_version} %{http_code}\n"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("http://127.0.0.1:" + std::to_string(port) + target);
    return run_to_completion(argv, dir_.file("curl-" + std::to_string(++runs_) + ".log"), 15000);
  }

  int runs_ = 0;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(L7Test, Http1RequestsAreRoutedRejectedAndRedirected) {
  HttpSetup s = start_l7_setup(routing_policies());
  ASSERT_NE(s.engine, nullptr);

  HttpResponse r = request(s.port, "/");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, "m1\n");  // no policy matched: the default pool
  r = request(s.port, "/api/items?page=2");
  EXPECT_EQ(r.body, "m2\n");
  r = request(s.port, "/other/api");
  EXPECT_EQ(r.body, "m1\n");

  // REJECT comes before REDIRECT_TO_POOL whatever the positions.
  r = request(s.port, "/api/items", "Host: localhost\r\nX-Block: yes\r\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 403);
  r = request(s.port, "/api/items", "Host: localhost\r\nX-Block: no\r\n");
  EXPECT_EQ(r.body, "m2\n");

  r = request(s.port, "/old");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("Location"), "https://new.example.com/landing");
  r = request(s.port, "/old/");  // EQUAL_TO: exact
  EXPECT_EQ(r.body, "m1\n");

  r = request(s.port, "/mirror/a/b?x=1&y=%20z");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("Location"), "https://mirror.example.com/mirror/a/b?x=1&y=%20z");

  // HOST_NAME ignores case; the port would count, as HAProxy's req.hdr(host) keeps it.
  EXPECT_EQ(request(s.port, "/", "Host: API.Example.NET\r\n").body, "m2\n");
  EXPECT_EQ(request(s.port, "/", "Host: api.example.org\r\n").body, "m1\n");
  EXPECT_EQ(request(s.port, "/", "Host: api.example.com:8080\r\n").body, "m1\n");

  EXPECT_EQ(request(s.port, "/", "Host: localhost\r\nCookie: a=1; tier=gold; b=2\r\n").body, "m2\n");
  EXPECT_EQ(request(s.port, "/", "Host: localhost\r\nCookie: tier=golden\r\n").body, "m1\n");
  EXPECT_EQ(request(s.port, "/", "Host: localhost\r\nCookie: mytier=gold\r\n").body, "m1\n");
}

TEST_F(L7Test, Http2RequestsFollowTheSamePolicies) {
  HttpSetup s = start_l7_setup(routing_policies(), [](json& config) { config["listeners"][0]["h2c"] = true; });
  ASSERT_NE(s.engine, nullptr);

  RunResult r = curl_h2(s.port, "/");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "m1\n\n2 200")) << r.output;
  r = curl_h2(s.port, "/api/items");
  EXPECT_TRUE(contains(r.output, "m2\n\n2 200")) << r.output;
  r = curl_h2(s.port, "/api/items", {"-H", "X-Block: yes"});
  EXPECT_TRUE(contains(r.output, "\n2 403")) << r.output;
  r = curl_h2(s.port, "/old");
  EXPECT_TRUE(contains(r.output, "location: https://new.example.com/landing\r\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "\n2 301")) << r.output;
  r = curl_h2(s.port, "/mirror/a?x=1&y=2");
  EXPECT_TRUE(contains(r.output, "location: https://mirror.example.com/mirror/a?x=1&y=2\r\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "\n2 302")) << r.output;
  r = curl_h2(s.port, "/", {"-H", "Host: api.EXAMPLE.com"});  // sent as :authority
  EXPECT_TRUE(contains(r.output, "m2\n\n2 200")) << r.output;
  // Two cookie fields, as h2 clients may split them: the second carries the tier.
  r = curl_h2(s.port, "/", {"-H", "Cookie: a=1", "-H", "Cookie: tier=gold"});
  EXPECT_TRUE(contains(r.output, "m2\n\n2 200")) << r.output;
  r = curl_h2(s.port, "/", {"-H", "Cookie: tier=silver"});
  EXPECT_TRUE(contains(r.output, "m1\n\n2 200")) << r.output;
}

TEST_F(L7Test, ClientCertificateRulesOnTerminatedHttps) {
  const json policies = json::array({
      to_pool2("good-client", 1,
               {rule("SSL_CONN_HAS_CERT", "EQUAL_TO", "True"), rule("SSL_VERIFY_RESULT", "EQUAL_TO", "0"),
                rule("SSL_DN_FIELD", "EQUAL_TO", "client-good", "CN")}),
      {{"id", "private-needs-cert"}, {"action", "REJECT"},
       {"rules", {rule("SSL_CONN_HAS_CERT", "EQUAL_TO", "True", "", /*invert=*/true),
                  rule("PATH", "STARTS_WITH", "/private")}}},
  });
  HttpSetup s = start_l7_setup(policies, [](json& config) {
    json& l = config["listeners"][0];
    l["protocol"] = "TERMINATED_HTTPS";
    l["default_tls_container"] = {{"certificate", test_pki().server_ecdsa.certificate_pem},
                                  {"private_key", test_pki().server_ecdsa.private_key_pem}};
    l["client_authentication"] = "OPTIONAL";
    l["client_ca_tls_container"] = test_pki().ca.certificate_pem;
    l["alpn_protocols"] = json::array({"h2", "http/1.1"});
  });
  ASSERT_NE(s.engine, nullptr);
  const std::string ca = dir_.file("ca.pem");
  write_file(ca, test_pki().ca.certificate_pem);
  write_file(dir_.file("good.crt"), test_pki().client_good.certificate_pem);
  write_file(dir_.file("good.key"), test_pki().client_good.private_key_pem);
  const std::vector<std::string> with_cert{"--cert", dir_.file("good.crt"), "--key", dir_.file("good.key")};

  auto curl = [&](const std::string& path, const std::string& version, const std::vector<std::string>& extra) {
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "10", "--cacert", ca, version,
                                  "--resolve", "www.example.com:" + std::to_string(s.port) + ":127.0.0.1",
                                  "-w", "\n%{http_version} %{http_code}\n"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://www.example.com:" + std::to_string(s.port) + path);
    return run_to_completion(argv, dir_.file("curl-" + std::to_string(++runs_) + ".log"), 15000);
  };
  for (const std::string version : {"--http1.1", "--http2"}) {
    SCOPED_TRACE(version);
    const std::string v = version == "--http2" ? "2" : "1.1";
    RunResult r = curl("/", version, {});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "m1\n\n" + v + " 200")) << r.output;
    r = curl("/private/x", version, {});
    EXPECT_TRUE(contains(r.output, "\n" + v + " 403")) << r.output;
    r = curl("/", version, with_cert);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "m2\n\n" + v + " 200")) << r.output;
    r = curl("/private/x", version, with_cert);
    EXPECT_TRUE(contains(r.output, "m2\n\n" + v + " 200")) << r.output;
  }
}

TEST_F(L7Test, RecordsTellWhatThePoliciesDid) {
  const std::string sink_path = dir_.file("records.sock");
  RecordSink sink(sink_path);
  ASSERT_TRUE(sink.bound());
  Member m1 = start_member("m1");
  Member m2 = start_member("m2");
  const uint16_t port = free_port();
  json config = config_json(1, json::array({listener_json("listener", port, "pool")}),
                            json::array({pool_json("pool", "ROUND_ROBIN", json::array({member_json("m1", m1.port)})),
                                         pool_json("pool2", "ROUND_ROBIN", json::array({member_json("m2", m2.port)}))}));
  config["listeners"][0]["l7policies"] = routing_policies();
  EngineOptions options;
  options.records_socket = sink_path;
  ASSERT_NE(start_engine(config, options), nullptr);

  EXPECT_EQ(request(port, "/api/1").body, "m2\n");
  EXPECT_EQ(request(port, "/api/2", "Host: localhost\r\nX-Block: yes\r\n").status, 403);
  EXPECT_EQ(request(port, "/old").status, 301);
  std::string problem;
  auto got = sink.read(3, 5000, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  ASSERT_EQ(got.size(), 3u);
  std::map<std::string, records::TransactionRecord> by_path;
  for (const auto& record : got) by_path[record.path] = record;
  ASSERT_EQ(by_path.size(), 3u);
  EXPECT_EQ(by_path["/api/1"].pool_id, "pool2");
  EXPECT_EQ(by_path["/api/1"].member_id, "m2");
  EXPECT_EQ(by_path["/api/1"].termination, records::Termination::kNormal);
  EXPECT_EQ(by_path["/api/2"].status, 403);
  EXPECT_EQ(by_path["/api/2"].termination, records::Termination::kDenied);
  EXPECT_EQ(by_path["/api/2"].member_id, "");
  EXPECT_EQ(by_path["/old"].status, 301);
  EXPECT_EQ(by_path["/old"].termination, records::Termination::kNormal);
  EXPECT_EQ(by_path["/old"].member_id, "");
}

TEST_F(L7Test, AppliedConfigChangesThePolicies) {
  HttpSetup s = start_l7_setup(json::array({to_pool2("api", 1, {rule("PATH", "STARTS_WITH", "/api")})}));
  ASSERT_NE(s.engine, nullptr);
  EXPECT_EQ(request(s.port, "/api/x").body, "m2\n");
  EXPECT_EQ(request(s.port, "/v2/x").body, "m1\n");

  json next = s.config;
  next["version"] = 2;
  next["listeners"][0]["l7policies"] = json::array({
      to_pool2("api", 1, {rule("PATH", "STARTS_WITH", "/v2")}),
      {{"id", "deny-api"}, {"action", "REJECT"}, {"rules", {rule("PATH", "STARTS_WITH", "/api")}}},
  });
  json reply = s.engine->apply(next);
  ASSERT_TRUE(reply.value("ok", false)) << reply.dump();
  EXPECT_EQ(request(s.port, "/api/x").status, 403);
  EXPECT_EQ(request(s.port, "/v2/x").body, "m2\n");

  // Disabling the pool a policy redirects to leaves that policy out.
  next["version"] = 3;
  next["pools"][1]["admin_state_up"] = false;
  reply = s.engine->apply(next);
  ASSERT_TRUE(reply.value("ok", false)) << reply.dump();
  EXPECT_EQ(request(s.port, "/v2/x").body, "m1\n");

  // Without policies, the default pool again.
  next["version"] = 4;
  next["listeners"][0].erase("l7policies");
  reply = s.engine->apply(next);
  ASSERT_TRUE(reply.value("ok", false)) << reply.dump();
  EXPECT_EQ(request(s.port, "/api/x").body, "m1\n");
}

}  // namespace
}  // namespace pharos::itest
