#include "amphora_agent/state/state_store.h"

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

// Designated initializers name only the fields a case is about; the rest keep their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace pharos::agent::state {
namespace {

namespace fs = std::filesystem;

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("pharos-state-test-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    path_ = (dir_ / "agent.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<StateStore> open_ok() {
    auto store = StateStore::open(path_);
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
    return store.ok() ? std::move(store).value() : nullptr;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(StateStoreTest, FreshDatabaseIsMigratedAndReopenIsIdempotent) {
  const int newest = static_cast<int>(embedded_migrations().size());
  ASSERT_GE(newest, 1);
  {
    auto store = open_ok();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->schema_version(), newest);
    EXPECT_EQ(store->count_rows("retention").value(), 3);
  }
  for (int i = 0; i < 3; ++i) {
    auto store = open_ok();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->schema_version(), newest);
    EXPECT_EQ(store->count_rows("retention").value(), 3);
    EXPECT_EQ(store->count_rows("agent_meta").value(), 1);
  }
}

TEST_F(StateStoreTest, ConfigSurvivesRestart) {
  {
    auto store = open_ok();
    ASSERT_TRUE(store);
    EXPECT_FALSE(store->current_config().value().has_value());
    ASSERT_TRUE(store->record_config(3, R"({"version":3})", 100).ok());
    ASSERT_TRUE(store->record_config(4, R"({"version":4})", 200).ok());
  }
  auto store = open_ok();
  ASSERT_TRUE(store);
  auto current = store->current_config();
  ASSERT_TRUE(current.ok());
  ASSERT_TRUE(current.value().has_value());
  EXPECT_EQ(current.value()->version, 4u);
  EXPECT_EQ(current.value()->document, R"({"version":4})");
  EXPECT_EQ(current.value()->sha256, sha256_hex(R"({"version":4})"));
  EXPECT_EQ(current.value()->accepted_at, 200);
}

TEST_F(StateStoreTest, ConfigHistoryKeepsTen) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  for (uint64_t v = 1; v <= 15; ++v) {
    ASSERT_TRUE(store->record_config(v, "{}", static_cast<int64_t>(v)).ok());
  }
  auto history = store->config_history();
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history.value().size(), 10u);
  EXPECT_EQ(history.value().front().version, 15u);
  EXPECT_EQ(history.value().back().version, 6u);
  EXPECT_FALSE(store->record_config(0, "{}", 1).ok());
}

TEST_F(StateStoreTest, HeartbeatSequencePersists) {
  {
    auto store = open_ok();
    EXPECT_EQ(store->next_heartbeat_seq().value(), 1u);
    EXPECT_EQ(store->next_heartbeat_seq().value(), 2u);
  }
  auto store = open_ok();
  EXPECT_EQ(store->next_heartbeat_seq().value(), 3u);
}

TEST_F(StateStoreTest, NewerDatabaseIsRefused) {
  { ASSERT_TRUE(open_ok()); }
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
    DbHandle db(raw);
    ASSERT_EQ(sqlite3_exec(db.get(), "PRAGMA user_version = 99", nullptr, nullptr, nullptr),
              SQLITE_OK);
  }
  auto store = StateStore::open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, StateErrc::kSchema);
  EXPECT_NE(store.error().message.find("99"), std::string::npos);
}

TEST_F(StateStoreTest, FailedMigrationChangesNothing) {
  const Migration good[] = {{1, "0001_a.sql", "CREATE TABLE a (x INTEGER);"}};
  const Migration bad[] = {{1, "0001_a.sql", "CREATE TABLE a (x INTEGER);"},
                           {2, "0002_b.sql", "CREATE TABLE b (x INTEGER); SELECT * FROM nope;"}};
  {
    auto store = StateStore::open(path_, good);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(store.value()->schema_version(), 1);
  }
  auto store = StateStore::open(path_, bad);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("0002_b.sql"), std::string::npos);
  // Table b was rolled back with the failed migration; user_version stayed 1.
  auto again = StateStore::open(path_, good);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value()->schema_version(), 1);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
  DbHandle db(raw);
  Statement probe(db.get(), "SELECT name FROM sqlite_master WHERE name = 'b'");
  EXPECT_EQ(probe.step(), SQLITE_DONE);
}

TEST_F(StateStoreTest, OutOfSequenceMigrationsAreRefused) {
  const Migration gap[] = {{1, "0001_a.sql", "SELECT 1;"}, {3, "0003_c.sql", "SELECT 1;"}};
  auto store = StateStore::open(path_, gap);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, StateErrc::kSchema);
}

TEST_F(StateStoreTest, WalModeIsOn) {
  { ASSERT_TRUE(open_ok()); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
  DbHandle db(raw);
  Statement mode(db.get(), "PRAGMA journal_mode");
  ASSERT_EQ(mode.step(), SQLITE_ROW);
  EXPECT_EQ(mode.column_text(0), "wal");
}

TEST_F(StateStoreTest, CertificatesMetadata) {
  auto store = open_ok();
  CertificateMeta meta{"listener-1", "abc", "CN=x", 2000000000, true, 1234, 10};
  ASSERT_TRUE(store->put_certificate(meta).ok());
  meta.sha256 = "def";
  ASSERT_TRUE(store->put_certificate(meta).ok());
  auto got = store->get_certificate("listener-1");
  ASSERT_TRUE(got.ok() && got.value().has_value());
  EXPECT_EQ(got.value()->sha256, "def");
  EXPECT_TRUE(got.value()->has_key);
  EXPECT_EQ(store->list_certificates().value().size(), 1u);
  EXPECT_TRUE(store->delete_certificate("listener-1").value());
  EXPECT_FALSE(store->delete_certificate("listener-1").value());
  EXPECT_FALSE(store->get_certificate("listener-1").value().has_value());
}

TEST_F(StateStoreTest, MemberHealth) {
  auto store = open_ok();
  EXPECT_TRUE(store->set_member_status("m1", "ONLINE", 10).value());
  EXPECT_FALSE(store->set_member_status("m1", "ONLINE", 20).value());
  EXPECT_TRUE(store->set_member_status("m1", "ERROR", 30).value());
  EXPECT_TRUE(store->set_member_status("m2", "ONLINE", 30).value());
  EXPECT_FALSE(store->set_member_status("m3", "BOGUS", 30).ok());
  auto health = store->member_health().value();
  ASSERT_EQ(health.size(), 2u);
  EXPECT_EQ(health[0].operating_status, "ERROR");
  EXPECT_EQ(health[0].changed_at, 30);
  ASSERT_TRUE(store->retain_members({"m2"}).ok());
  health = store->member_health().value();
  ASSERT_EQ(health.size(), 1u);
  EXPECT_EQ(health[0].member_id, "m2");
}

// Stands in for the log reducer's codec: the state layer treats the encoding as opaque.
std::string concatenate(std::string_view stored, std::string_view added) {
  return std::string(stored) + "+" + std::string(added);
}

TEST_F(StateStoreTest, ReducedLogRetention) {
  auto store = open_ok();
  const int64_t now = 1'700'000'000;
  ASSERT_TRUE(store->add_significant_record({(now - 8 * 86400) * 1000000, "l1", "", "",
                                             "member_timeout", 504, 1, "{}"}).ok());
  ASSERT_TRUE(store->add_significant_record({now * 1000000, "l1", "p1", "m1", "slow", 200, 9,
                                             "{}"}).ok());
  // Default limits: aggregates are kept two days.
  AggregateRow old{.interval_start_us = (now - 3 * 86400) * 1'000'000,
                   .interval_us = 60'000'000, .listener_id = "l1", .count = 1, .encoded = "x"};
  AggregateRow fresh = old;
  fresh.interval_start_us = (now - 60) * 1'000'000;
  ASSERT_TRUE(store->merge_aggregates(std::vector{old, fresh}, &concatenate).ok());
  AggregateRow bad = fresh;
  bad.status_class = 9;
  EXPECT_FALSE(store->merge_aggregates(std::vector{bad}, &concatenate).ok());
  auto deleted = store->enforce_retention(now);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(deleted.value(), 2);
  EXPECT_EQ(store->count_rows("significant_records").value(), 1);
  EXPECT_EQ(store->count_rows("reduced_aggregates").value(), 1);
  EXPECT_FALSE(store->count_rows("sqlite_master; DROP TABLE x").ok());
}

SignificantRecord kept(int64_t at_us, std::string listener, std::string member, int64_t status,
                       std::string path, std::string client) {
  SignificantRecord r;
  r.at_unix_us = at_us;
  r.listener_id = std::move(listener);
  r.pool_id = "p1";
  r.member_id = std::move(member);
  r.reason = "status_error";
  r.status = status;
  r.record_json = "{}";
  r.method = "GET";
  r.path = std::move(path);
  r.client_address = std::move(client);
  return r;
}

TEST_F(StateStoreTest, SignificantRecordSearch) {
  auto store = open_ok();
  const std::vector<SignificantRecord> rows = {
      kept(100, "l1", "m1", 503, "/api/a", "10.0.0.1"),
      kept(200, "l1", "m2", 404, "/api/b", "10.0.0.2"),
      kept(300, "l2", "m1", 0, "", "10.0.0.1"),
      kept(400, "l1", "m1", 500, "/static/x", "10.0.0.1"),
  };
  ASSERT_TRUE(store->add_significant_records(rows).ok());
  auto search = [&](RecordQuery q) {
    auto found = store->search_significant_records(q);
    EXPECT_TRUE(found.ok());
    std::vector<int64_t> at;
    for (const auto& r : found.value()) at.push_back(r.at_unix_us);
    return at;
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(search({}), (V{400, 300, 200, 100}));
  EXPECT_EQ(search({.since_us = 200, .until_us = 400}), (V{300, 200}));
  EXPECT_EQ(search({.listener_id = "l1", .member_id = "m1"}), (V{400, 100}));
  EXPECT_EQ(search({.status = 404}), (V{200}));
  EXPECT_EQ(search({.status_class = 5}), (V{400, 100}));
  EXPECT_EQ(search({.status_class = 0}), (V{300}));
  EXPECT_EQ(search({.path_prefix = "/api/"}), (V{200, 100}));
  EXPECT_EQ(search({.path_prefix = "%"}), V{});  // no LIKE wildcards
  EXPECT_EQ(search({.client_address = "10.0.0.1"}), (V{400, 300, 100}));
  EXPECT_EQ(search({.limit = 2}), (V{400, 300}));
  EXPECT_EQ(search({.offset = 3, .limit = 2}), (V{100}));
  const auto first = store->search_significant_records({.limit = 2}).value();
  EXPECT_EQ(search({.before_id = first.back().id, .limit = 2}), (V{200, 100}));
  EXPECT_EQ(first.front().path, "/static/x");
  EXPECT_EQ(first.front().client_address, "10.0.0.1");
}

TEST_F(StateStoreTest, AggregatesWithTheSameKeyMerge) {
  auto store = open_ok();
  AggregateRow a{.interval_start_us = 60'000'000, .interval_us = 60'000'000,
                 .listener_id = "l1", .pool_id = "p1", .member_id = "m1", .status_class = 2,
                 .method = "GET", .count = 3, .bytes_in = 10, .bytes_out = 100,
                 .encoded = std::string("a\0b", 3)};
  AggregateRow b = a;
  b.status_class = 5;
  b.count = 1;
  b.encoded = "c";
  ASSERT_TRUE(store->merge_aggregates(std::vector{a, b}, &concatenate).ok());
  a.count = 2;
  a.encoded = "d";
  ASSERT_TRUE(store->merge_aggregates(std::vector{a}, &concatenate).ok());
  auto rows = store->query_aggregates({}).value();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].count, 5);
  EXPECT_EQ(rows[0].bytes_in, 20);
  EXPECT_EQ(rows[0].encoded, std::string("a\0b+d", 5));
  EXPECT_EQ(rows[1].count, 1);
  EXPECT_EQ(store->query_aggregates({.status_class = 5}).value().size(), 1u);
  EXPECT_EQ(store->query_aggregates({.listener_id = "l2"}).value().size(), 0u);
  EXPECT_EQ(store->query_aggregates({.since_us = 120'000'000}).value().size(), 0u);
  EXPECT_EQ(store->query_aggregates({.since_us = 119'000'000}).value().size(), 2u);
  EXPECT_EQ(store->query_aggregates({.until_us = 60'000'000}).value().size(), 0u);
  // A merger that cannot decode what is stored refuses the whole batch.
  auto refuse = [](std::string_view, std::string_view) { return std::string(); };
  EXPECT_FALSE(store->merge_aggregates(std::vector{a}, +refuse).ok());
  EXPECT_EQ(store->query_aggregates({}).value()[0].count, 5);
}

TEST_F(StateStoreTest, ConfiguredRetentionAppliesToReducedLogs) {
  auto store = open_ok();
  const int64_t now = 1'700'000'000;
  ASSERT_TRUE(store->set_retention("significant_records", 0, 2).ok());
  ASSERT_TRUE(store->set_retention("reduced_aggregates", 3600, 0).ok());
  EXPECT_FALSE(store->set_retention("nonsense", 1, 1).ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store->add_significant_record(kept(i, "l1", "m1", 500, "/", "a")).ok());
  }
  AggregateRow old{.interval_start_us = (now - 7200) * 1'000'000, .interval_us = 60'000'000,
                   .listener_id = "l1", .count = 1, .encoded = "x"};
  AggregateRow fresh = old;
  fresh.interval_start_us = (now - 60) * 1'000'000;
  ASSERT_TRUE(store->merge_aggregates(std::vector{old, fresh}, &concatenate).ok());
  auto deleted = store->enforce_retention(now);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(deleted.value(), 4);
  EXPECT_EQ(store->count_rows("significant_records").value(), 2);
  EXPECT_EQ(store->count_rows("reduced_aggregates").value(), 1);
}

}  // namespace
}  // namespace pharos::agent::state
