#include "amphora_agent/state/state_store.h"

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

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

TEST_F(StateStoreTest, ReducedLogRetention) {
  auto store = open_ok();
  const int64_t now = 1'700'000'000;
  ASSERT_TRUE(store->add_significant_record({(now - 8 * 86400) * 1000000, "l1", "", "",
                                             "member_timeout", 504, 1, "{}"}).ok());
  ASSERT_TRUE(store->add_significant_record({now * 1000000, "l1", "p1", "m1", "slow", 200, 9,
                                             "{}"}).ok());
  ASSERT_TRUE(store->upsert_aggregate({now - 3 * 86400, 60, "listener", "l1"}).ok());
  ASSERT_TRUE(store->upsert_aggregate({now - 60, 60, "listener", "l1", 10, 1}).ok());
  ASSERT_TRUE(store->upsert_aggregate({now - 60, 60, "listener", "l1", 11, 1}).ok());
  EXPECT_FALSE(store->upsert_aggregate({now, 60, "nonsense", "x"}).ok());
  auto deleted = store->enforce_retention(now);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(deleted.value(), 2);
  EXPECT_EQ(store->count_rows("significant_records").value(), 1);
  EXPECT_EQ(store->count_rows("traffic_aggregates").value(), 1);
  EXPECT_FALSE(store->count_rows("sqlite_master; DROP TABLE x").ok());
}

}  // namespace
}  // namespace pharos::agent::state
