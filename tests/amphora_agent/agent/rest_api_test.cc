// The REST API end to end over mutual TLS, against the real pharos-engine.
#include <sys/stat.h>

#include <openssl/ssl.h>

#include "agent_fixture.h"
#include "amphora_agent/agent/engine/supervisor.h"

namespace pharos::agent::testing {
namespace {

using nlohmann::json;

class RestApiTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    prepare();
    start_agent();
    ASSERT_TRUE(eventually([&] { return engine_up(); }, std::chrono::seconds(15)))
        << "the engine never came up";
  }

  json put_config(const json& config, int expected_status) {
    const HttpResult r = call("PUT", "/v1/config", config.dump(), "application/json");
    EXPECT_EQ(r.status, expected_status) << r.raw;
    return json::parse(r.body, nullptr, false);
  }

  uint64_t accepted_version() {
    const json s = status();
    return s.is_object() ? s["config"]["accepted_version"].get<uint64_t>() : 0;
  }
};

void expect_error(const HttpResult& r, int status, const std::string& code,
                  const std::string& path) {
  EXPECT_EQ(r.status, status) << r.raw;
  const json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << r.raw;
  EXPECT_EQ(body.value("code", ""), code) << r.body;
  EXPECT_EQ(body.value("path", "?"), path) << r.body;
  EXPECT_FALSE(body.value("message", "").empty());
}

TEST_F(RestApiTest, GoodClientCertificateIsAccepted) {
  const HttpResult r = call("GET", "/v1/info");
  ASSERT_EQ(r.status, 200) << r.raw;
  const json info = json::parse(r.body);
  EXPECT_EQ(info["amphora_id"], kAmphoraId);
  // `pharos-engine --version` output, or "unknown" while the engine has no such flag.
  EXPECT_TRUE(info["engine_version"].is_string());
  EXPECT_FALSE(info["engine_version"].get<std::string>().empty());
  EXPECT_TRUE(info["capabilities"].is_object());
}

TEST_F(RestApiTest, NoClientCertificateIsRefused) {
  ClientTls tls = good_tls();
  tls.cert_pem.clear();
  tls.key_pem.clear();
  const HttpResult r = http_request(config_.bind_port, "GET", "/v1/info", "", "", tls);
  EXPECT_EQ(r.status, 0) << r.raw;
  EXPECT_EQ(r.raw.find("HTTP/"), std::string::npos) << r.raw;
}

TEST_F(RestApiTest, CertificateFromAnotherCaIsRefused) {
  ClientTls tls = good_tls();
  tls.cert_pem = test_pki().other_client.cert;
  tls.key_pem = test_pki().other_client.key;
  const HttpResult r = http_request(config_.bind_port, "GET", "/v1/info", "", "", tls);
  EXPECT_EQ(r.status, 0) << r.raw;
  EXPECT_EQ(r.raw.find("HTTP/"), std::string::npos) << r.raw;
}

TEST_F(RestApiTest, PlainHttpIsRefused) {
  ClientTls plain;
  plain.enabled = false;
  const HttpResult r = http_request(config_.bind_port, "GET", "/v1/info", "", "", plain);
  EXPECT_EQ(r.status, 0) << r.raw;
  EXPECT_EQ(r.raw.find("HTTP/"), std::string::npos) << r.raw;
}

TEST_F(RestApiTest, TlsOlderThan12IsRefused) {
  ClientTls tls = good_tls();
  tls.max_version = TLS1_1_VERSION;
  const HttpResult r = http_request(config_.bind_port, "GET", "/v1/info", "", "", tls);
  EXPECT_FALSE(r.tls_ok);
  EXPECT_EQ(r.status, 0) << r.raw;
  EXPECT_EQ(r.raw.find("HTTP/"), std::string::npos) << r.raw;
}

TEST_F(RestApiTest, ConfigRoundTrip) {
  EXPECT_EQ(call("GET", "/v1/config").status, 404);
  json reply = put_config(config(1), 200);
  EXPECT_EQ(reply["version"], 1);
  EXPECT_EQ(reply["changed"], true);
  const HttpResult got = call("GET", "/v1/config");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(json::parse(got.body), config(1));
  const json s = status();
  EXPECT_EQ(s["config"]["accepted_version"], 1);
  EXPECT_EQ(s["config"]["applied_version"], 1);
  EXPECT_EQ(s["members"]["member-1"]["engine_status"], "UP");
  EXPECT_EQ(s["members"]["member-1"]["operating_status"], "NO_MONITOR");
  // The same document again is an idempotent retry.
  reply = put_config(config(1), 200);
  EXPECT_EQ(reply["changed"], false);
}

TEST_F(RestApiTest, MalformedJsonIsRejectedAndNothingChanges) {
  put_config(config(1), 200);
  expect_error(call("PUT", "/v1/config", "{\"version\": 2,", "application/json"), 400,
               "malformed_json", "");
  EXPECT_EQ(accepted_version(), 1u);
}

TEST_F(RestApiTest, WrongTypeIsRejectedWithItsPath) {
  put_config(config(1), 200);
  json bad = config(2);
  bad["version"] = "two";
  expect_error(call("PUT", "/v1/config", bad.dump(), "application/json"), 400,
               "schema_violation", "/version");
  bad = config(2);
  bad["listeners"][0]["protocol_port"] = "eighty";
  expect_error(call("PUT", "/v1/config", bad.dump(), "application/json"), 422, "invalid_config",
               "/listeners/0/protocol_port");
  EXPECT_EQ(accepted_version(), 1u);
}

TEST_F(RestApiTest, UnknownFieldsAreRejectedWithTheirPath) {
  put_config(config(1), 200);
  json bad = config(2);
  bad["pools"][0]["members"][0]["colour"] = "blue";
  expect_error(call("PUT", "/v1/config", bad.dump(), "application/json"), 422, "invalid_config",
               "/pools/0/members/0/colour");
  expect_error(call("POST", "/v1/drain", R"({"exit": false, "now": true})", "application/json"),
               400, "schema_violation", "/now");
  EXPECT_EQ(accepted_version(), 1u);
}

TEST_F(RestApiTest, OversizedBodyIs413) {
  put_config(config(1), 200);
  json big = config(2);
  big["listeners"][0]["name"] = std::string(config_.max_body_bytes, 'x');
  expect_error(call("PUT", "/v1/config", big.dump(), "application/json"), 413, "body_too_large",
               "");
  EXPECT_EQ(accepted_version(), 1u);
}

TEST_F(RestApiTest, WrongMediaTypeIs415) {
  expect_error(call("PUT", "/v1/config", config(1).dump(), "text/plain"), 415,
               "unsupported_media_type", "");
  EXPECT_EQ(accepted_version(), 0u);
}

TEST_F(RestApiTest, OlderVersionIsAConflict) {
  put_config(config(5), 200);
  expect_error(call("PUT", "/v1/config", config(4).dump(), "application/json"), 409,
               "version_conflict", "/version");
  json changed = config(5);
  changed["workers"] = 2;
  expect_error(call("PUT", "/v1/config", changed.dump(), "application/json"), 409,
               "version_conflict", "/version");
  EXPECT_EQ(accepted_version(), 5u);
}

TEST_F(RestApiTest, ConfigForAnotherAmphoraIsRejected) {
  json other = config(1);
  other["amphora_id"] = "someone-else";
  expect_error(call("PUT", "/v1/config", other.dump(), "application/json"), 422,
               "invalid_config", "/amphora_id");
  EXPECT_EQ(accepted_version(), 0u);
}

TEST_F(RestApiTest, EngineRefusalKeepsTheRunningConfig) {
  put_config(config(1), 200);
  // Valid for the validator, impossible for the engine: its listener port is held by a socket
  // without SO_REUSEPORT, so the engine cannot bind it and refuses apply_config.
  PortHolder held;
  const json refused = sample_config(7, held.port(), member_port_);
  expect_error(call("PUT", "/v1/config", refused.dump(), "application/json"), 422,
               "invalid_config", "/listeners/0/protocol_port");
  EXPECT_EQ(accepted_version(), 1u);
  EXPECT_EQ(status()["config"]["applied_version"], 1);
  EXPECT_EQ(agent_->context().supervisor->client().get_version().body["version"], 1);
  EXPECT_TRUE(port_accepts(listener_port_)) << "the running listener went away";
}

TEST_F(RestApiTest, UnknownRouteAndMethodAreJsonErrors) {
  expect_error(call("GET", "/v1/nothing"), 404, "not_found", "");
  expect_error(call("DELETE", "/v1/info"), 405, "method_not_allowed", "");
  expect_error(call("GET", "/info"), 404, "not_found", "");
}

// Sends `n` requests through the engine's listener; returns how many got a 200.
int send_through(uint16_t listener_port, int n) {
  ClientTls plain;
  plain.enabled = false;
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    if (http_request(listener_port, "GET", "/", "", "", plain).status == 200) ++ok;
  }
  return ok;
}

TEST_F(RestApiTest, StatsComeFromTheEngine) {
  DemoBackend member(member_port_, "m1");
  put_config(config(1), 200);
  ASSERT_EQ(send_through(listener_port_, 3), 3);
  json stats;
  ASSERT_TRUE(eventually([&] {
    const HttpResult r = call("GET", "/v1/stats");
    if (r.status != 200) return false;
    stats = json::parse(r.body);
    return stats["members"]["member-1"]["responses"]["2xx"] == 3;
  })) << stats.dump();
  EXPECT_EQ(stats["version"], 1);
  EXPECT_EQ(stats["listeners"]["listener-1"]["total_connections"], 3);
  EXPECT_GT(stats["listeners"]["listener-1"]["bytes_out"].get<uint64_t>(), 0u);
  EXPECT_FALSE(stats.contains("ok"));
}

TEST_F(RestApiTest, Certificates) {
  const Pem leaf = make_leaf(test_pki().ca, "www.example.com", true);
  const std::string bundle = leaf.cert + leaf.key + test_pki().ca.cert;
  HttpResult r = call("PUT", "/v1/certificates/listener-1.pem-bundle", bundle,
                      "application/x-pem-file");
  ASSERT_EQ(r.status, 200) << r.raw;
  const json meta = json::parse(r.body);
  EXPECT_EQ(meta["has_key"], true);
  EXPECT_EQ(meta["subject"], "CN=www.example.com");
  const std::string path = config_.state_dir + "/certs/listener-1.pem-bundle.pem";
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  expect_error(call("PUT", "/v1/certificates/bad$id", bundle, "application/x-pem-file"), 400,
               "invalid_id", "");
  expect_error(call("PUT", "/v1/certificates/.hidden", bundle, "application/x-pem-file"), 400,
               "invalid_id", "");
  expect_error(call("PUT", "/v1/certificates/x", "not a pem", "application/x-pem-file"), 400,
               "invalid_pem", "");
  const Pem other = make_leaf(test_pki().ca, "other", true);
  expect_error(call("PUT", "/v1/certificates/x", leaf.cert + other.key, "application/x-pem-file"),
               400, "key_mismatch", "");
  expect_error(call("PUT", "/v1/certificates/x", bundle, "application/json"), 415,
               "unsupported_media_type", "");

  r = call("DELETE", "/v1/certificates/listener-1.pem-bundle");
  EXPECT_EQ(r.status, 204) << r.raw;
  EXPECT_NE(::stat(path.c_str(), &st), 0);
  expect_error(call("DELETE", "/v1/certificates/listener-1.pem-bundle"), 404, "not_found", "");
}

TEST_F(RestApiTest, StateSurvivesAnAgentRestart) {
  put_config(config(3), 200);
  stop_agent();
  start_agent();
  // Re-applied to the new engine from SQLite, without the controller.
  ASSERT_TRUE(eventually([&] {
    const json s = status();
    return s.is_object() && s["engine"]["up"] == true && s["config"]["applied_version"] == 3;
  }));
  const auto version = agent_->context().supervisor->client().get_version();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version.body["version"], 3);
  EXPECT_EQ(json::parse(call("GET", "/v1/config").body), config(3));
}

TEST_F(RestApiTest, KilledEngineIsRestartedWithItsConfig) {
  put_config(config(2), 200);
  const json before = status();
  const pid_t pid = before["engine"]["pid"].get<pid_t>();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] {
    const json s = status();
    return s.is_object() && s["engine"]["up"] == true && s["engine"]["pid"] != pid &&
           s["config"]["applied_version"] == 2;
  }));
  const json after = status();
  EXPECT_EQ(after["engine"]["restarts"], 1);
  EXPECT_EQ(after["engine"]["last_exit"], "signal 9");
  EXPECT_EQ(agent_->context().supervisor->client().get_version().body["version"], 2);
}

TEST_F(RestApiTest, DrainWithExitIsNotRestarted) {
  const HttpResult r = call("POST", "/v1/drain", R"({"exit": true})", "application/json");
  ASSERT_EQ(r.status, 202) << r.raw;
  ASSERT_TRUE(eventually([&] {
    const json s = status();
    return s.is_object() && s["engine"]["drained"] == true;
  }));
  EXPECT_EQ(status()["engine"]["restarts"], 0);
  EXPECT_EQ(call("GET", "/v1/stats").status, 503);
}

TEST_F(RestApiTest, MetricsOnPlainHttp) {
  DemoBackend member(member_port_, "m1");
  put_config(config(4), 200);
  ASSERT_EQ(send_through(listener_port_, 5), 5);
  ClientTls plain;
  plain.enabled = false;
  HttpResult r;
  ASSERT_TRUE(eventually([&] {
    r = http_request(config_.metrics_port, "GET", "/metrics", "", "", plain);
    return r.body.find("pharos_listener_connections_total{listener=\"listener-1\"} 5") !=
           std::string::npos;
  })) << r.body;
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_NE(r.body.find("pharos_engine_up{amphora=\"" + std::string(kAmphoraId) + "\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("pharos_config_version{amphora=\"" + std::string(kAmphoraId) + "\"} 4"),
            std::string::npos);
  EXPECT_NE(r.body.find("pharos_member_up{member=\"member-1\",status=\"UP\"} 1"),
            std::string::npos);
  EXPECT_NE(r.raw.find("text/plain"), std::string::npos);
}

}  // namespace
}  // namespace pharos::agent::testing
