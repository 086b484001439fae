// The log reducer wired to the real engine: transaction records arrive on the records socket,
// errors and slow requests are kept whole (GET /v1/logs) and every request is counted in the
// aggregates (GET /v1/logs/aggregates).
#include <algorithm>
#include <set>

#include "agent_fixture.h"
#include "amphora_agent/agent/heartbeat_loop.h"
#include "amphora_agent/state/state_store.h"

namespace pharos::agent::testing {
namespace {

using nlohmann::json;

constexpr uint32_t kSlaMs = 200;

class LogsTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    prepare();
    config_.logs_sla_ms = kSlaMs;
    // The requests below span at most two 2 s intervals, all inside the heartbeat's window.
    config_.logs_interval_s = 2;
  }

  void start() {
    start_agent();
    ASSERT_TRUE(eventually([&] { return engine_up(); }, std::chrono::seconds(15)));
    ASSERT_EQ(call("PUT", "/v1/config", config(1).dump(), "application/json").status, 200);
  }

  int get(const std::string& path) {
    ClientTls plain;
    plain.enabled = false;
    return http_request(listener_port_, "GET", path, "", "", plain).status;
  }

  json get_json(const std::string& path) {
    const HttpResult r = call("GET", path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.raw;
    return json::parse(r.body, nullptr, false);
  }

  // Sum of `field` over the aggregates that match `filter` (a query string).
  uint64_t aggregate_sum(const std::string& filter, const char* field = "count") {
    const json body = get_json("/v1/logs/aggregates" + filter);
    uint64_t sum = 0;
    if (!body.is_object()) return 0;
    for (const auto& a : body["aggregates"]) sum += a[field].get<uint64_t>();
    return sum;
  }

  std::vector<json> records(const std::string& filter) {
    const json body = get_json("/v1/logs" + filter);
    if (!body.is_object()) return {};
    return body["records"].get<std::vector<json>>();
  }
};

TEST_F(LogsTest, ErrorsAndSlowRequestsAreKeptAndEveryRequestIsCounted) {
  DemoBackend member(member_port_, "m1");
  start();
  constexpr int kOk = 10;
  // Fewer member errors in a row than member_recovery_errors (3): records from the engine's
  // workers arrive in any order, and a success after three errors is kept as a recovery.
  constexpr int kErrors = 2;
  constexpr int kSlow = 2;
  for (int i = 0; i < kOk; ++i) ASSERT_EQ(get("/ok/" + std::to_string(i)), 200);
  for (int i = 0; i < kErrors; ++i) ASSERT_EQ(get("/status/503"), 503);
  for (int i = 0; i < kSlow; ++i) ASSERT_EQ(get("/delay/" + std::to_string(kSlaMs + 200)), 200);
  constexpr uint64_t kTotal = kOk + kErrors + kSlow;

  // Intervals close a second and a grace after they end; poll until every request is counted.
  ASSERT_TRUE(eventually([&] { return aggregate_sum("") == kTotal; }, std::chrono::seconds(15)))
      << get_json("/v1/logs/aggregates").dump();
  // The heartbeat's quality comes from the same aggregates, those of the last two intervals:
  // build it before the REST checks below take that long.
  HeartbeatLoop heartbeat(agent_->context());
  const heartbeat::HeartbeatPayload beat = heartbeat.build();
  ASSERT_TRUE(beat.listener_quality.contains("listener-1"));
  const heartbeat::TrafficQuality& q = beat.listener_quality.at("listener-1");
  EXPECT_EQ(q.requests, kTotal);
  EXPECT_DOUBLE_EQ(q.error_rate, double{kErrors} / double{kTotal});
  EXPECT_GE(q.p99_ms, kSlaMs + 200.0 * 0.98);
  EXPECT_LE(q.p50_ms, q.p95_ms);
  EXPECT_EQ(beat.pool_quality.at("pool-1").requests, kTotal);

  EXPECT_EQ(aggregate_sum("?status_class=5xx"), uint64_t{kErrors});
  EXPECT_EQ(aggregate_sum("?status_class=2xx"), uint64_t{kOk + kSlow});
  EXPECT_EQ(aggregate_sum("?listener_id=listener-1&pool_id=pool-1&member_id=member-1"), kTotal);
  EXPECT_EQ(aggregate_sum("?listener_id=someone-else"), 0u);
  EXPECT_GT(aggregate_sum("", "bytes_out"), 0u);
  // The slow requests are the 2xx group's tail.
  double max_ms = 0;
  const json ok_groups = get_json("/v1/logs/aggregates?status_class=2xx");
  for (const auto& a : ok_groups["aggregates"]) {
    max_ms = std::max(max_ms, a["total_ms"]["max"].get<double>());
    EXPECT_LE(a["total_ms"]["p50"].get<double>(), a["total_ms"]["p99"].get<double>());
  }
  EXPECT_GE(max_ms, kSlaMs + 200.0 * 0.98) << ok_groups.dump();

  // Kept whole: the errors and the slow ones, nothing else.
  const auto errors = records("?status=503");
  ASSERT_EQ(errors.size(), size_t{kErrors});
  for (const auto& r : errors) {
    EXPECT_EQ(r["path"], "/status/503");
    EXPECT_EQ(r["member_id"], "member-1");
    EXPECT_NE(std::find(r["reasons"].begin(), r["reasons"].end(), "status_error"),
              r["reasons"].end());
  }
  EXPECT_EQ(records("?status=5xx").size(), size_t{kErrors});
  const auto slow = records("?path_prefix=/delay/");
  ASSERT_EQ(slow.size(), size_t{kSlow});
  for (const auto& r : slow) {
    EXPECT_NE(std::find(r["reasons"].begin(), r["reasons"].end(), "slow"), r["reasons"].end());
    EXPECT_GE(r["total_us"].get<uint64_t>(), kSlaMs * 1000u);
  }
  EXPECT_EQ(records("").size(), size_t{kErrors + kSlow});
  EXPECT_EQ(records("?path_prefix=/ok").size(), 0u);
  EXPECT_EQ(records("?client_address=127.0.0.1&listener_id=listener-1").size(),
            size_t{kErrors + kSlow});
  EXPECT_EQ(records("?client_address=192.0.2.1").size(), 0u);
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  EXPECT_EQ(records("?since=" + std::to_string(now_s + 60)).size(), 0u);
  EXPECT_EQ(records("?until=" + std::to_string(now_s + 60)).size(), size_t{kErrors + kSlow});

  // Paging: markers walk every kept record once, newest first; offset skips.
  std::vector<int64_t> ids;
  std::string marker;
  for (int page = 0; page < 10; ++page) {
    const json body = get_json("/v1/logs?limit=2" + marker);
    for (const auto& r : body["records"]) ids.push_back(r["id"].get<int64_t>());
    if (body["next_marker"].is_null()) break;
    marker = "&marker=" + std::to_string(body["next_marker"].get<int64_t>());
  }
  ASSERT_EQ(ids.size(), size_t{kErrors + kSlow});
  EXPECT_TRUE(std::is_sorted(ids.rbegin(), ids.rend()));
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), ids.size());
  const auto skipped = records("?offset=1&limit=1");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0]["id"], ids[1]);

  EXPECT_EQ(call("GET", "/v1/logs?colour=blue").status, 400);
  EXPECT_EQ(call("GET", "/v1/logs?limit=0").status, 400);
  EXPECT_EQ(call("GET", "/v1/logs/aggregates?status_class=6xx").status, 400);
}

TEST_F(LogsTest, RetentionKeepsTheConfiguredNumberOfRecords) {
  config_.logs_records_max_rows = 3;
  config_.logs_retention_interval_s = 1;
  DemoBackend member(member_port_, "m1");
  start();
  for (int i = 0; i < 8; ++i) ASSERT_EQ(get("/status/500"), 500);
  ASSERT_TRUE(eventually([&] { return aggregate_sum("?status_class=5xx") == 8; },
                         std::chrono::seconds(15)));
  // Retention runs every second; afterwards only the newest three are left.
  ASSERT_TRUE(eventually(
      [&] { return agent_->context().store->count_rows("significant_records").value() == 3; },
      std::chrono::seconds(5)));
  EXPECT_EQ(records("").size(), 3u);
}

}  // namespace
}  // namespace pharos::agent::testing
