// TERMINATED_HTTPS end to end: the real engine with certificates generated at test time, and
// real TLS clients (curl and openssl s_client from Debian) as separate processes.
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/engine/integration/harness.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::itest {
namespace {

using tls::test::Credential;
using tls::test::test_pki;

json container_json(const Credential& c) {
  return {{"certificate", c.certificate_pem}, {"private_key", c.private_key_pem}};
}

class TlsTest : public IntegrationTest {
 protected:
  void SetUp() override {
    ca_file_ = dir_.file("ca.pem");
    write_file(ca_file_, test_pki().ca.certificate_pem);
    for (const auto& [name, c] : std::map<std::string, const Credential*>{
             {"good", &test_pki().client_good},
             {"stranger", &test_pki().client_unknown_ca},
             {"revoked", &test_pki().client_revoked}}) {
      write_file(dir_.file(name + ".crt"), c->certificate_pem);
      write_file(dir_.file(name + ".key"), c->private_key_pem);
    }
  }

  // Members m1 and m2 behind a TERMINATED_HTTPS listener serving www.example.com (ECDSA and
  // RSA), api.example.net and *.apps.example.com; `adjust` edits the listener.
  HttpSetup start_tls_setup(const std::function<void(json&)>& adjust = {}) {
    return start_http_setup("ROUND_ROBIN", [&](json& config) {
      json& l = config["listeners"][0];
      l["protocol"] = "TERMINATED_HTTPS";
      l["default_tls_container"] = container_json(test_pki().server_ecdsa);
      l["sni_containers"] = json::array({container_json(test_pki().server_rsa),
                                         container_json(test_pki().other_ecdsa),
                                         container_json(test_pki().wildcard_ecdsa)});
      l["insert_headers"] = {{"X-Forwarded-Proto", true}};
      if (adjust) adjust(l);
    });
  }

  // curl against the listener as `host` (resolved to 127.0.0.1); returns exit status and output
  // (-w adds the negotiated HTTP version and the status on the last line).
  RunResult curl(uint16_t port, const std::string& host, const std::string& path,
                 const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "10", "--cacert", ca_file_,
                                  "--resolve", host + ":" + std::to_string(port) + ":127.0.0.1",
                                  "-w", "\n%{http_version} %{http_code}\n"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://" + host + ":" + std::to_string(port) + path);
    return run_to_completion(argv, dir_.file("curl-" + std::to_string(++runs_) + ".log"), 15000);
  }

  // openssl s_client with `args`; stdin is the request text (or nothing).
  RunResult s_client(uint16_t port, const std::vector<std::string>& args,
                     const std::string& request = "") {
    const std::string input = dir_.file("s_client-in-" + std::to_string(++runs_));
    write_file(input, request);
    std::string command = "exec openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                          " -CAfile " + ca_file_;
    for (const auto& a : args) command += " " + a;
    command += " < " + input;
    return run_to_completion({"/bin/sh", "-c", command},
                             dir_.file("s_client-" + std::to_string(runs_) + ".log"), 15000);
  }

  std::string client_cert(const std::string& name) {
    return "--cert " + dir_.file(name + ".crt") + " --key " + dir_.file(name + ".key");
  }

  std::string ca_file_;
  int runs_ = 0;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(TlsTest, Tls13AndTls12ServeRequestsWithInsertedHeaders) {
  HttpSetup s = start_tls_setup();
  ASSERT_NE(s.engine, nullptr);
  RunResult r13 = curl(s.port, "www.example.com", "/echo", {"--tlsv1.3"});
  ASSERT_EQ(r13.status, 0) << r13.output;
  EXPECT_TRUE(contains(r13.output, "X-Forwarded-Proto: https")) << r13.output;
  EXPECT_TRUE(contains(r13.output, "1.1 200")) << r13.output;
  RunResult r12 = curl(s.port, "www.example.com", "/", {"--tlsv1.2", "--tls-max", "1.2"});
  ASSERT_EQ(r12.status, 0) << r12.output;
  EXPECT_TRUE(contains(r12.output, "1.1 200")) << r12.output;
  EXPECT_GE(s.engine->stat("listeners", "listener", "total_connections"), 2u);
}

TEST_F(TlsTest, SniPicksTheCertificateAndEcdsaOrRsaByWhatTheClientSupports) {
  HttpSetup s = start_tls_setup();
  ASSERT_NE(s.engine, nullptr);
  RunResult api = s_client(s.port, {"-servername", "api.example.net", "-brief"});
  EXPECT_TRUE(contains(api.output, "api.example.net")) << api.output;
  RunResult wildcard = s_client(s.port, {"-servername", "x.apps.example.com", "-brief"});
  EXPECT_TRUE(contains(wildcard.output, "apps.example.com")) << wildcard.output;
  RunResult unknown = s_client(s.port, {"-servername", "nobody.example.org", "-brief"});
  EXPECT_TRUE(contains(unknown.output, "www.example.com")) << unknown.output;  // the default

  // The same name with an RSA-only TLS 1.2 client gets the RSA certificate, a client that can
  // do ECDSA gets the ECDSA one.
  RunResult rsa = s_client(s.port, {"-servername", "www.example.com", "-tls1_2", "-cipher",
                                    "ECDHE-RSA-AES128-GCM-SHA256", "-brief"});
  EXPECT_TRUE(contains(rsa.output, "Signature type: RSA")) << rsa.output;
  RunResult ecdsa = s_client(s.port, {"-servername", "www.example.com", "-brief"});
  EXPECT_TRUE(contains(ecdsa.output, "Signature type: ECDSA")) << ecdsa.output;
}

TEST_F(TlsTest, OldProtocolVersionsAreRefused) {
  HttpSetup s = start_tls_setup();
  ASSERT_NE(s.engine, nullptr);
  for (const char* version : {"-tls1", "-tls1_1"}) {
    RunResult r = s_client(s.port, {version, "-cipher", "DEFAULT@SECLEVEL=0", "-brief"});
    EXPECT_NE(r.status, 0) << version << ": " << r.output;
    EXPECT_FALSE(contains(r.output, "CONNECTION ESTABLISHED")) << version << ": " << r.output;
  }
  // Explicitly allowed, with a CBC suite TLS 1.1 can use (the default suites are AEAD only),
  // TLS 1.1 works.
  HttpSetup old = start_tls_setup([](json& l) {
    l["tls_versions"] = {"TLSv1.1", "TLSv1.2"};
    l["tls_ciphers"] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA";
  });
  ASSERT_NE(old.engine, nullptr);
  RunResult r = s_client(old.port, {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-brief"});
  EXPECT_TRUE(contains(r.output, "CONNECTION ESTABLISHED")) << r.output;
}

TEST_F(TlsTest, SessionsResumeWithTicketsAndWithTheCache) {
  HttpSetup s = start_tls_setup();
  ASSERT_NE(s.engine, nullptr);
  const std::string request = "GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n";
  for (const char* version : {"-tls1_3", "-tls1_2"}) {
    const std::string session = dir_.file(std::string("session") + version);
    RunResult first = s_client(s.port, {version, "-sess_out", session, "-ign_eof"}, request);
    ASSERT_TRUE(contains(first.output, "200 OK")) << first.output;
    RunResult second = s_client(s.port, {version, "-sess_in", session, "-ign_eof"}, request);
    EXPECT_TRUE(contains(second.output, "Reused, TLSv1.")) << version << ": " << second.output;
  }
  // Tickets off: TLS 1.2 session IDs still resume from the server's cache.
  json config = s.config;
  config["version"] = 2;
  config["tls"] = {{"ticket_key_rotation_s", 0}};
  ASSERT_TRUE(s.engine->apply(config)["ok"].get<bool>());
  const std::string session = dir_.file("session-cache");
  RunResult first = s_client(s.port, {"-tls1_2", "-no_ticket", "-sess_out", session, "-ign_eof"}, request);
  ASSERT_TRUE(contains(first.output, "200 OK")) << first.output;
  RunResult second = s_client(s.port, {"-tls1_2", "-no_ticket", "-sess_in", session, "-ign_eof"}, request);
  EXPECT_TRUE(contains(second.output, "Reused, TLSv1.2")) << second.output;
}

TEST_F(TlsTest, MandatoryClientAuthenticationChecksCaAndCrlAndInsertsHeaders) {
  HttpSetup s = start_tls_setup([](json& l) {
    l["client_authentication"] = "MANDATORY";
    l["client_ca_tls_container"] = test_pki().ca.certificate_pem;
    l["client_crl_container"] = test_pki().crl;
    l["insert_headers"] = {{"X-SSL-Client-Verify", true}, {"X-SSL-Client-Has-Cert", true},
                           {"X-SSL-Client-CN", true},     {"X-SSL-Client-DN", true},
                           {"X-SSL-Issuer", true},        {"X-SSL-Client-SHA1", true},
                           {"X-SSL-Client-Not-Before", true}, {"X-SSL-Client-Not-After", true}};
  });
  ASSERT_NE(s.engine, nullptr);
  RunResult good = curl(s.port, "www.example.com", "/echo",
                        {"--cert", dir_.file("good.crt"), "--key", dir_.file("good.key"),
                         "-H", "X-SSL-Client-CN: spoofed"});
  ASSERT_EQ(good.status, 0) << good.output;
  EXPECT_TRUE(contains(good.output, "X-SSL-Client-Verify: 0")) << good.output;
  EXPECT_TRUE(contains(good.output, "X-SSL-Client-Has-Cert: 1")) << good.output;
  // Quoted, as HAProxy's %{+Q} gives them to Octavia's users.
  EXPECT_TRUE(contains(good.output, "X-SSL-Client-CN: \"client-good\"")) << good.output;
  EXPECT_FALSE(contains(good.output, "spoofed")) << good.output;
  EXPECT_TRUE(contains(good.output, "X-SSL-Issuer: ")) << good.output;
  EXPECT_TRUE(contains(good.output, "Pharos Test CA")) << good.output;
  EXPECT_TRUE(contains(good.output, "X-SSL-Client-SHA1: ")) << good.output;
  EXPECT_TRUE(contains(good.output, "X-SSL-Client-Not-After: ")) << good.output;

  RunResult missing = curl(s.port, "www.example.com", "/");
  EXPECT_NE(missing.status, 0) << missing.output;
  for (const char* who : {"stranger", "revoked"}) {
    RunResult r = curl(s.port, "www.example.com", "/",
                       {"--cert", dir_.file(std::string(who) + ".crt"), "--key",
                        dir_.file(std::string(who) + ".key")});
    EXPECT_NE(r.status, 0) << who << ": " << r.output;
    EXPECT_FALSE(contains(r.output, " 200")) << who << ": " << r.output;
  }
  // The listener still serves good clients after the refusals.
  EXPECT_EQ(curl(s.port, "www.example.com", "/",
                 {"--cert", dir_.file("good.crt"), "--key", dir_.file("good.key")}).status, 0);
}

TEST_F(TlsTest, OptionalClientAuthenticationLetsClientsWithoutACertificateIn) {
  HttpSetup s = start_tls_setup([](json& l) {
    l["client_authentication"] = "OPTIONAL";
    l["client_ca_tls_container"] = test_pki().ca.certificate_pem;
    l["insert_headers"] = {{"X-SSL-Client-Has-Cert", true}, {"X-SSL-Client-Verify", true}};
  });
  ASSERT_NE(s.engine, nullptr);
  RunResult none = curl(s.port, "www.example.com", "/echo");
  ASSERT_EQ(none.status, 0) << none.output;
  EXPECT_TRUE(contains(none.output, "X-SSL-Client-Has-Cert: 0")) << none.output;
  RunResult good = curl(s.port, "www.example.com", "/echo",
                        {"--cert", dir_.file("good.crt"), "--key", dir_.file("good.key")});
  ASSERT_EQ(good.status, 0) << good.output;
  EXPECT_TRUE(contains(good.output, "X-SSL-Client-Has-Cert: 1")) << good.output;
  RunResult stranger = curl(s.port, "www.example.com", "/",
                            {"--cert", dir_.file("stranger.crt"), "--key", dir_.file("stranger.key")});
  EXPECT_NE(stranger.status, 0) << stranger.output;
}

TEST_F(TlsTest, HstsIsAddedToResponses) {
  HttpSetup s = start_tls_setup([](json& l) {
    l["hsts_max_age"] = 31536000;
    l["hsts_include_subdomains"] = true;
    l["hsts_preload"] = true;
  });
  ASSERT_NE(s.engine, nullptr);
  RunResult r = curl(s.port, "www.example.com", "/", {"-D", "-"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "strict-transport-security: max-age=31536000; includeSubDomains; preload") ||
              contains(r.output, "Strict-Transport-Security: max-age=31536000; includeSubDomains; preload"))
      << r.output;
}

TEST_F(TlsTest, AlpnOffersHttp2OnlyWhenTheListenerListsIt) {
  HttpSetup plain = start_tls_setup();
  ASSERT_NE(plain.engine, nullptr);
  RunResult h1 = curl(plain.port, "www.example.com", "/", {"--http2"});
  ASSERT_EQ(h1.status, 0) << h1.output;
  EXPECT_TRUE(contains(h1.output, "1.1 200")) << h1.output;

  HttpSetup s = start_tls_setup([](json& l) {
    l["alpn_protocols"] = {"h2", "http/1.1"};
    l["hsts_max_age"] = 600;
    l["client_authentication"] = "OPTIONAL";
    l["client_ca_tls_container"] = test_pki().ca.certificate_pem;
    l["insert_headers"] = {{"X-Forwarded-Proto", true}, {"X-SSL-Client-CN", true}};
  });
  ASSERT_NE(s.engine, nullptr);
  RunResult h2 = curl(s.port, "www.example.com", "/echo",
                      {"--http2", "-D", "-", "--cert", dir_.file("good.crt"), "--key", dir_.file("good.key")});
  ASSERT_EQ(h2.status, 0) << h2.output;
  EXPECT_TRUE(contains(h2.output, "\n2 200")) << h2.output;
  EXPECT_TRUE(contains(h2.output, "X-Forwarded-Proto: https")) << h2.output;
  EXPECT_TRUE(contains(h2.output, "X-SSL-Client-CN: \"client-good\"")) << h2.output;
  EXPECT_TRUE(contains(h2.output, "strict-transport-security: max-age=600")) << h2.output;
  RunResult h11 = curl(s.port, "www.example.com", "/", {"--http1.1"});
  EXPECT_TRUE(contains(h11.output, "1.1 200")) << h11.output;
}

TEST_F(TlsTest, BadCertificatesAreRefusedAndTheRunningConfigStays) {
  HttpSetup s = start_tls_setup();
  ASSERT_NE(s.engine, nullptr);
  struct Case {
    std::function<void(json&)> edit;
    std::string path;
    std::string words;
  };
  const std::vector<Case> cases = {
      {[](json& l) { l["default_tls_container"]["private_key"] = test_pki().server_rsa.private_key_pem; },
       "/listeners/0/default_tls_container", "match"},
      {[](json& l) { l["default_tls_container"] = container_json(test_pki().expired_ecdsa); },
       "/listeners/0/default_tls_container", "expired"},
      {[](json& l) {
         l["default_tls_container"]["certificate"] =
             "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n";
       },
       "/listeners/0/default_tls_container", ""},
      {[](json& l) { l["tls_ciphers"] = "NO-SUCH-CIPHER"; }, "/listeners/0/tls_ciphers", ""},
  };
  uint64_t version = 1;
  for (const auto& c : cases) {
    json config = s.config;
    config["version"] = ++version;
    c.edit(config["listeners"][0]);
    json reply = s.engine->apply(config);
    ASSERT_FALSE(reply.value("ok", true)) << reply.dump();
    const std::string text = reply.dump();
    EXPECT_TRUE(contains(text, c.path)) << text;
    if (!c.words.empty()) {
      EXPECT_TRUE(contains(text, c.words)) << text;
    }
    EXPECT_EQ(s.engine->version(), 1u);
    EXPECT_EQ(curl(s.port, "www.example.com", "/").status, 0);
  }
}

// Re-encryption: an engine re-encrypts to a member that is itself an engine terminating TLS with
// mandatory client authentication in front of a demo member.
TEST_F(TlsTest, ReencryptionVerifiesTheMemberAndPresentsAClientCertificate) {
  Member backend = start_member("m1");
  const uint16_t tls_port = free_port();
  json inner_listener = listener_json("inner", tls_port, "backend", "TERMINATED_HTTPS");
  inner_listener["default_tls_container"] = container_json(test_pki().server_ecdsa);
  inner_listener["client_authentication"] = "MANDATORY";
  inner_listener["client_ca_tls_container"] = test_pki().ca.certificate_pem;
  inner_listener["insert_headers"] = {{"X-SSL-Client-CN", true}, {"X-Forwarded-Proto", true}};
  EngineHandle* inner = start_engine(config_json(
      1, json::array({inner_listener}),
      json::array({pool_json("backend", "ROUND_ROBIN", json::array({member_json("m1", backend.port)}))})));
  ASSERT_NE(inner, nullptr);

  const uint16_t port = free_port();
  json pool = pool_json("reencrypt", "ROUND_ROBIN", json::array({member_json("inner", tls_port)}));
  pool["tls_enabled"] = true;
  pool["ca_tls_container"] = test_pki().ca.certificate_pem;
  pool["tls_container"] = container_json(test_pki().client_good);
  json config = config_json(1, json::array({listener_json("outer", port, "reencrypt")}), json::array({pool}));
  EngineHandle* outer = start_engine(config);
  ASSERT_NE(outer, nullptr);
  for (int i = 0; i < 3; ++i) {  // the second and third reuse the pooled TLS connection
    HttpResponse r = http_get(port, "/echo");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(contains(r.body, "X-SSL-Client-CN: \"client-good\"")) << r.body;
    EXPECT_TRUE(contains(r.body, "X-Forwarded-Proto: https")) << r.body;
  }
  EXPECT_LE(outer->stat("members", "inner", "total_connections"), 3u);

  // A member whose certificate does not chain to the pool's CA is not used.
  config["version"] = 2;
  config["pools"][0]["ca_tls_container"] = test_pki().other_ca.certificate_pem;
  ASSERT_TRUE(outer->apply(config)["ok"].get<bool>());
  HttpResponse refused = http_get(port, "/");
  ASSERT_TRUE(refused.ok) << refused.error;
  EXPECT_EQ(refused.status, 502) << refused.body;
  EXPECT_GE(outer->stat("members", "inner", "connect_failures"), 1u);
}

// A passthrough HTTPS listener stays TCP (the member terminates TLS: here an engine) and records
// the server name of the client's ClientHello.
TEST_F(TlsTest, PassthroughHttpsRecordsTheClientHelloServerName) {
  HttpSetup inner = start_tls_setup();
  ASSERT_NE(inner.engine, nullptr);
  const std::string sink_path = dir_.file("records.sock");
  RecordSink sink(sink_path);
  ASSERT_TRUE(sink.bound());
  const uint16_t port = free_port();
  json config = config_json(
      1, json::array({listener_json("passthrough", port, "tls-members", "HTTPS")}),
      json::array({pool_json("tls-members", "ROUND_ROBIN", json::array({member_json("inner", inner.port)}), "HTTPS")}));
  EngineOptions options;
  options.records_socket = sink_path;
  EngineHandle* outer = start_engine(config, options);
  ASSERT_NE(outer, nullptr);
  RunResult r = curl(port, "api.example.net", "/");
  ASSERT_EQ(r.status, 0) << r.output;  // verified against the inner engine's api.example.net
  std::string problem;
  auto records = sink.read(1, 5000, &problem);
  ASSERT_EQ(records.size(), 1u) << problem;
  EXPECT_EQ(records[0].kind, records::RecordKind::kTcp);
  EXPECT_EQ(records[0].sni, "api.example.net");
  EXPECT_EQ(records[0].listener_id, "passthrough");
}

TEST_F(TlsTest, CheckConfigReadsCertificateFilesRelativeToTheConfig) {
  write_file(dir_.file("server.pem"), test_pki().server_ecdsa.certificate_pem +
                                          test_pki().server_ecdsa.private_key_pem);
  json config = config_json(1, json::array({listener_json("l", free_port(), "pool", "TERMINATED_HTTPS")}),
                            json::array({pool_json("pool", "ROUND_ROBIN", json::array())}));
  config["listeners"][0]["default_tls_container"] = {{"file", "server.pem"}};
  write_file(dir_.file("good.json"), config.dump());
  RunResult ok = run_to_completion({engine_binary(), "--check-config", dir_.file("good.json")},
                                   dir_.file("check-good.log"), 10000);
  EXPECT_EQ(ok.status, 0) << ok.output;
  config["listeners"][0]["default_tls_container"] = {{"file", "missing.pem"}};
  write_file(dir_.file("bad.json"), config.dump());
  RunResult bad = run_to_completion({engine_binary(), "--check-config", dir_.file("bad.json")},
                                    dir_.file("check-bad.log"), 10000);
  EXPECT_NE(bad.status, 0);
  EXPECT_TRUE(contains(bad.output, "/listeners/0/default_tls_container")) << bad.output;
}

}  // namespace
}  // namespace pharos::itest
