// Config changes: apply_config over the control socket (invalid, valid, listeners added and
// removed, a hundred versions under load) and `pharos-engine --check-config`.
#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/engine/integration/harness.h"

namespace pharos::itest {
namespace {

using ConfigApplyTest = IntegrationTest;

std::set<std::string> error_paths(const json& reply) {
  std::set<std::string> paths;
  for (const auto& e : reply.value("errors", json::array())) paths.insert(e.value("path", ""));
  return paths;
}

TEST_F(ConfigApplyTest, InvalidConfigIsRefusedWithFieldPathsAndChangesNothing) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  json bad = s.config;
  bad["version"] = 2;
  bad["listeners"][0]["protocol_port"] = 0;
  bad["pools"][0]["members"][0]["weight"] = 999;
  bad["pools"][0]["lb_algorithm"] = "FASTEST";
  json reply = s.engine->apply(bad);
  EXPECT_FALSE(reply.value("ok", true)) << reply.dump();
  EXPECT_EQ(reply.value("error", ""), "invalid_config") << reply.dump();
  auto paths = error_paths(reply);
  EXPECT_TRUE(paths.count("/listeners/0/protocol_port")) << reply.dump();
  EXPECT_TRUE(paths.count("/pools/0/members/0/weight")) << reply.dump();
  EXPECT_TRUE(paths.count("/pools/0/lb_algorithm")) << reply.dump();

  // A semantic error (a pool that does not exist) is reported with its path too.
  json dangling = s.config;
  dangling["version"] = 2;
  dangling["listeners"][0]["default_pool_id"] = "no-such-pool";
  reply = s.engine->apply(dangling);
  EXPECT_FALSE(reply.value("ok", true)) << reply.dump();
  EXPECT_TRUE(error_paths(reply).count("/listeners/0/default_pool_id")) << reply.dump();

  EXPECT_EQ(s.engine->version(), 1u);
  HttpResponse r = http_get(s.port, "/");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  json current = s.engine->call({{"command", "get_config"}});
  EXPECT_EQ(current["config"], s.config);
}

TEST_F(ConfigApplyTest, ValidConfigReplacesThePoolAndReportsItsVersion) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  Member m3 = start_member("m3");
  json next = s.config;
  next["version"] = 2;
  // Member ids stay, ports change: m1 now points at m3's server, m2 is gone.
  next["pools"][0]["members"] = json::array({member_json("m1", m3.port)});
  json reply = s.engine->apply(next);
  ASSERT_TRUE(reply.value("ok", false)) << reply.dump();
  EXPECT_EQ(reply["version"], 2);
  EXPECT_EQ(s.engine->version(), 2u);
  for (int i = 0; i < 4; ++i) {
    HttpResponse r = http_get(s.port, "/");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.body, "m3\n");
  }
  // A keep-alive connection opened on version 2 stays on it.
  HttpConnection kept(s.port);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(kept.send(get_request("/")));
    HttpResponse r = kept.read_response();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.body, "m3\n");
  }
  json stats = s.engine->stats();
  EXPECT_EQ(stats["version"], 2);
  EXPECT_FALSE(stats["members"].contains("m2")) << stats.dump();
  json config = s.engine->call({{"command", "get_config"}});
  EXPECT_EQ(config["config"], next);
}

// BUG (engine/proxy/http_session.cc): HttpSession::refresh_snapshot() runs only in
// finish_transaction(), i.e. right after the previous response. A keep-alive connection that is
// idle while a config is applied therefore serves its next request on the old snapshot (old
// pool, old members, old timeouts), even though the engine documents that a keep-alive session
// moves to the newest snapshot between transactions. A member removed from the pool still gets
// that request. Fix: call refresh_snapshot() when a new request starts (top of
// begin_transaction(), or in read_request_head() when start_us_ == 0), not only after the
// previous one ended.
TEST_F(ConfigApplyTest, IdleKeepAliveConnectionUsesTheNewConfigForItsNextRequest) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  Member m3 = start_member("m3");
  HttpConnection kept(s.port);
  ASSERT_TRUE(kept.send(get_request("/")));
  ASSERT_TRUE(kept.read_response().ok);

  json next = s.config;
  next["version"] = 2;
  next["pools"][0]["members"] = json::array({member_json("m3", m3.port)});
  ASSERT_TRUE(s.engine->apply(next).value("ok", false));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(kept.send(get_request("/")));
    HttpResponse r = kept.read_response();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.body, "m3\n") << "request " << i << " after the apply used the old pool";
  }
}

TEST_F(ConfigApplyTest, ListenersAddedStartAndRemovedStop) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  uint16_t extra_port = free_port();
  json v2 = s.config;
  v2["version"] = 2;
  v2["listeners"].push_back(listener_json("extra", extra_port, "pool"));
  json reply = s.engine->apply(v2);
  ASSERT_TRUE(reply.value("ok", false)) << reply.dump();
  HttpResponse r = http_get(extra_port, "/");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);

  json v3 = s.config;
  v3["version"] = 3;
  reply = s.engine->apply(v3);
  ASSERT_TRUE(reply.value("ok", false)) << reply.dump();
  int fd = connect_tcp("127.0.0.1", extra_port);
  EXPECT_LT(fd, 0) << "the removed listener still accepts connections";
  if (fd >= 0) ::close(fd);
  r = http_get(s.port, "/");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(s.engine->version(), 3u);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST_F(ConfigApplyTest, CheckConfigCommandLine) {
  namespace fs = std::filesystem;
  const fs::path examples = fs::path(PHAROS_SOURCE_DIR) / "schema" / "examples";
  // The TLS examples name certificates in certs/ next to them, which make-test-certs.sh writes:
  // check copies of the examples beside a fresh set, leaving the source tree alone.
  RunResult certs = run_to_completion(
      {"/bin/bash", (examples / "make-test-certs.sh").string(), dir_.file("certs")},
      dir_.file("certs.log"), 60000);
  ASSERT_EQ(certs.status, 0) << certs.output;
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(examples)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    const std::string copy = dir_.file(entry.path().filename().string());
    fs::copy_file(entry.path(), copy, fs::copy_options::overwrite_existing);
    RunResult run = run_to_completion({engine_binary(), "--check-config", copy},
                                      dir_.file("check.log"), 10000);
    EXPECT_EQ(run.status, 0) << run.output;
    ++checked;
  }
  EXPECT_GE(checked, 3);

  // Two problems: two lines, each naming its field path.
  json bad = config_json(7, json::array({listener_json("l", 0, "pool")}),
                         json::array({pool_json("pool", "ROUND_ROBIN", json::array({member_json("m", 80)}))}));
  bad["pools"][0]["members"][0]["weight"] = 999;
  std::string path = dir_.file("bad.json");
  write_file(path, bad.dump());
  RunResult run = run_to_completion({engine_binary(), "--check-config", path}, dir_.file("check.log"), 10000);
  EXPECT_EQ(run.status, 1) << run.output;
  auto lines = lines_of(run.output);
  ASSERT_EQ(lines.size(), 2u) << run.output;
  std::set<std::string> prefixes;
  for (const auto& line : lines) prefixes.insert(line.substr(0, line.find(": ")));
  EXPECT_EQ(prefixes, (std::set<std::string>{"/listeners/0/protocol_port", "/pools/0/members/0/weight"}))
      << run.output;

  // The repository's invalid examples all fail, each line naming a path.
  for (const char* folder : {"invalid", "semantic-invalid"}) {
    for (const auto& entry : fs::directory_iterator(examples / folder)) {
      SCOPED_TRACE(entry.path().string());
      RunResult r = run_to_completion({engine_binary(), "--check-config", entry.path().string()},
                                      dir_.file("check.log"), 10000);
      EXPECT_EQ(r.status, 1) << r.output;
      auto problem_lines = lines_of(r.output);
      EXPECT_FALSE(problem_lines.empty());
      for (const auto& line : problem_lines) {
        EXPECT_TRUE(line[0] == '/' || line.rfind("(root)", 0) == 0) << line;
        EXPECT_NE(line.find(": "), std::string::npos) << line;
      }
    }
  }
}

TEST_F(ConfigApplyTest, HundredVersionsUnderLoadLoseNoRequest) {
  Member m3 = start_member("m3");
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& config) { config["workers"] = 2; });
  ASSERT_NE(s.engine, nullptr);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> served{0};
  std::atomic<uint64_t> failed{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& why) {
    failed.fetch_add(1);
    std::lock_guard lock(failures_mutex);
    if (failures.size() < 10) failures.push_back(why);
  };
  std::thread client([&] {
    while (!stop.load()) {
      // A few requests on one keep-alive connection...
      {
        HttpConnection kept(s.port);
        for (int i = 0; i < 5 && !stop.load(); ++i) {
          if (!kept.send(get_request("/"))) {
            fail("keep-alive send failed");
            break;
          }
          HttpResponse r = kept.read_response(5000);
          if (!r.ok || r.status != 200) {
            fail("keep-alive: " + (r.ok ? std::to_string(r.status) + " " + r.body : r.error));
            break;
          }
          served.fetch_add(1);
        }
      }
      // ...then one on a new connection.
      HttpResponse r = http_get(s.port, "/");
      if (!r.ok || r.status != 200) {
        fail("new connection: " + (r.ok ? std::to_string(r.status) + " " + r.body : r.error));
      } else {
        served.fetch_add(1);
      }
    }
  });

  uint64_t last = 1;
  for (uint64_t version = 2; version <= 101; ++version) {
    json next = s.config;
    next["version"] = version;
    next["workers"] = 2;
    auto& members = next["pools"][0]["members"];
    members[0]["weight"] = version % 2 ? 1 : 3;
    members[1]["weight"] = version % 2 ? 2 : 1;
    if (version % 4 < 2) members.push_back(member_json("m3", m3.port));
    next["listeners"][0]["timeout_member_data"] = 5000 + (version % 3) * 1000;
    next["listeners"][0]["timeout_client_data"] = 10000 + (version % 5) * 1000;
    next["pools"][0]["lb_algorithm"] = version % 10 == 0 ? "LEAST_CONNECTIONS" : "ROUND_ROBIN";
    json reply = s.engine->apply(next);
    ASSERT_TRUE(reply.value("ok", false)) << "version " << version << ": " << reply.dump();
    ASSERT_EQ(reply["version"], version);
    last = version;
    // Let traffic run on each version before the next one.
    uint64_t before = served.load();
    if (!wait_until([&] { return served.load() >= before + 2 || failed.load() > 0; }, 5000)) break;
  }
  stop.store(true);
  client.join();
  std::string why;
  for (const auto& f : failures) why += f + "\n";
  EXPECT_EQ(failed.load(), 0u) << why;
  EXPECT_GE(served.load(), 200u);
  EXPECT_EQ(last, 101u);
  EXPECT_EQ(s.engine->version(), 101u);
}

}  // namespace
}  // namespace pharos::itest
