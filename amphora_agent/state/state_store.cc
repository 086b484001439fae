#include "amphora_agent/state/state_store.h"

#include <algorithm>
#include <array>

#include <openssl/evp.h>

namespace pharos::agent::state {
namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr std::array<std::string_view, 7> kTables = {
    "config_versions", "agent_meta",          "certificates",       "member_health",
    "significant_records", "traffic_aggregates", "retention"};

StateError io_error(sqlite3* db, std::string_view what) {
  return StateError{StateErrc::kIo, std::string(what) + ": " + sqlite3_errmsg(db)};
}

Status step_done(Statement& stmt, sqlite3* db, std::string_view what) {
  const int rc = stmt.step();
  if (rc != SQLITE_DONE) {
    const StateErrc code = rc == SQLITE_CONSTRAINT ? StateErrc::kInvalid : StateErrc::kIo;
    return StateError{code, std::string(what) + ": " + sqlite3_errmsg(db)};
  }
  return ok_status();
}

ConfigVersion read_config(const Statement& stmt) {
  return ConfigVersion{static_cast<uint64_t>(stmt.column_int(0)), stmt.column_text(1),
                       stmt.column_text(2), stmt.column_int(3)};
}

CertificateMeta read_certificate(const Statement& stmt) {
  return CertificateMeta{stmt.column_text(0), stmt.column_text(1), stmt.column_text(2),
                         stmt.column_int(3),  stmt.column_int(4) != 0, stmt.column_int(5),
                         stmt.column_int(6)};
}

constexpr const char* kCertColumns =
    "SELECT id, sha256, subject, not_after, has_key, size_bytes, updated_at FROM certificates";

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& path) {
  return open(path, embedded_migrations());
}

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& path,
                                                     std::span<const Migration> migrations) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                     SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    return StateError{StateErrc::kIo, "cannot open " + path + ": " +
                                          (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))};
  }
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                             "PRAGMA foreign_keys=ON"}) {
    Statement stmt(db.get(), pragma);
    const int step = stmt.step();
    if (step != SQLITE_ROW && step != SQLITE_DONE) return io_error(db.get(), pragma);
  }
  auto version = migrate(db.get(), migrations);
  if (!version) return version.error();
  return std::unique_ptr<StateStore>(new StateStore(std::move(db), version.value()));
}

Result<std::optional<ConfigVersion>> StateStore::current_config() {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(),
                 "SELECT version, document, sha256, accepted_at FROM config_versions "
                 "ORDER BY version DESC LIMIT 1");
  const int rc = stmt.step();
  if (rc == SQLITE_DONE) return std::optional<ConfigVersion>();
  if (rc != SQLITE_ROW) return io_error(db_.get(), "reading the current config");
  return std::optional<ConfigVersion>(read_config(stmt));
}

Result<std::vector<ConfigVersion>> StateStore::config_history() {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(),
                 "SELECT version, document, sha256, accepted_at FROM config_versions "
                 "ORDER BY version DESC");
  std::vector<ConfigVersion> out;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) out.push_back(read_config(stmt));
  if (rc != SQLITE_DONE) return io_error(db_.get(), "reading config history");
  return out;
}

Status StateStore::exec_locked(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db_.get());
    sqlite3_free(message);
    return StateError{StateErrc::kIo, text};
  }
  return ok_status();
}

Status StateStore::record_config(uint64_t version, std::string_view document, int64_t now_unix) {
  if (version == 0 || version > static_cast<uint64_t>(INT64_MAX)) {
    return StateError{StateErrc::kInvalid, "config version out of range"};
  }
  const std::string digest = sha256_hex(document);
  std::lock_guard lock(mu_);
  if (auto s = exec_locked("BEGIN IMMEDIATE"); !s) return s;
  Statement insert(db_.get(),
                   "INSERT OR REPLACE INTO config_versions (version, document, sha256, accepted_at) "
                   "VALUES (?1, ?2, ?3, ?4)");
  insert.bind(1, static_cast<int64_t>(version)).bind(2, document).bind(3, digest).bind(4, now_unix);
  Status status = step_done(insert, db_.get(), "recording config");
  if (status) {
    Statement trim(db_.get(),
                   "DELETE FROM config_versions WHERE version NOT IN ("
                   " SELECT version FROM config_versions ORDER BY version DESC LIMIT"
                   " (SELECT CASE WHEN max_rows > 0 THEN max_rows ELSE -1 END FROM retention"
                   "  WHERE table_name = 'config_versions'))");
    status = step_done(trim, db_.get(), "trimming config history");
  }
  if (status) status = exec_locked("COMMIT");
  if (!status) exec_locked("ROLLBACK");
  return status;
}

Result<uint64_t> StateStore::next_heartbeat_seq() {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(),
                 "UPDATE agent_meta SET value = value + 1 WHERE key = 'heartbeat_seq' "
                 "RETURNING value");
  if (stmt.step() != SQLITE_ROW) return io_error(db_.get(), "advancing the heartbeat sequence");
  const auto value = static_cast<uint64_t>(stmt.column_int(0));
  if (stmt.step() != SQLITE_DONE) return io_error(db_.get(), "advancing the heartbeat sequence");
  return value;
}

Status StateStore::put_certificate(const CertificateMeta& m) {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(),
                 "INSERT INTO certificates (id, sha256, subject, not_after, has_key, size_bytes,"
                 " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET"
                 " sha256 = excluded.sha256, subject = excluded.subject,"
                 " not_after = excluded.not_after, has_key = excluded.has_key,"
                 " size_bytes = excluded.size_bytes, updated_at = excluded.updated_at");
  stmt.bind(1, m.id).bind(2, m.sha256).bind(3, m.subject).bind(4, m.not_after)
      .bind(5, int64_t{m.has_key ? 1 : 0}).bind(6, m.size_bytes).bind(7, m.updated_at);
  return step_done(stmt, db_.get(), "recording certificate");
}

Result<bool> StateStore::delete_certificate(std::string_view id) {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(), "DELETE FROM certificates WHERE id = ?1");
  stmt.bind(1, id);
  if (auto s = step_done(stmt, db_.get(), "deleting certificate"); !s) return s.error();
  return sqlite3_changes(db_.get()) > 0;
}

Result<std::optional<CertificateMeta>> StateStore::get_certificate(std::string_view id) {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(), std::string(kCertColumns) + " WHERE id = ?1");
  stmt.bind(1, id);
  const int rc = stmt.step();
  if (rc == SQLITE_DONE) return std::optional<CertificateMeta>();
  if (rc != SQLITE_ROW) return io_error(db_.get(), "reading certificate");
  return std::optional<CertificateMeta>(read_certificate(stmt));
}

Result<std::vector<CertificateMeta>> StateStore::list_certificates() {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(), std::string(kCertColumns) + " ORDER BY id");
  std::vector<CertificateMeta> out;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) out.push_back(read_certificate(stmt));
  if (rc != SQLITE_DONE) return io_error(db_.get(), "listing certificates");
  return out;
}

Result<bool> StateStore::set_member_status(std::string_view member_id, std::string_view status,
                                           int64_t now_unix) {
  std::lock_guard lock(mu_);
  Statement read(db_.get(), "SELECT operating_status FROM member_health WHERE member_id = ?1");
  read.bind(1, member_id);
  const int rc = read.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return io_error(db_.get(), "reading member health");
  const bool changed = rc == SQLITE_DONE || read.column_text(0) != status;
  Statement write(db_.get(),
                  "INSERT INTO member_health (member_id, operating_status, changed_at, updated_at)"
                  " VALUES (?1, ?2, ?3, ?3) ON CONFLICT(member_id) DO UPDATE SET"
                  " operating_status = excluded.operating_status, updated_at = excluded.updated_at,"
                  " changed_at = CASE WHEN member_health.operating_status = excluded.operating_status"
                  "   THEN member_health.changed_at ELSE excluded.changed_at END");
  write.bind(1, member_id).bind(2, status).bind(3, now_unix);
  if (auto s = step_done(write, db_.get(), "recording member health"); !s) return s.error();
  return changed;
}

Result<std::vector<MemberHealth>> StateStore::member_health() {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(),
                 "SELECT member_id, operating_status, changed_at, updated_at FROM member_health"
                 " ORDER BY member_id");
  std::vector<MemberHealth> out;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) {
    out.push_back({stmt.column_text(0), stmt.column_text(1), stmt.column_int(2),
                   stmt.column_int(3)});
  }
  if (rc != SQLITE_DONE) return io_error(db_.get(), "reading member health");
  return out;
}

Status StateStore::retain_members(const std::vector<std::string>& member_ids) {
  std::lock_guard lock(mu_);
  // A temp table keeps this one statement whatever the member count.
  if (auto s = exec_locked("CREATE TEMP TABLE IF NOT EXISTS keep_members (id TEXT PRIMARY KEY);"
                           "DELETE FROM keep_members;");
      !s) {
    return s;
  }
  for (const std::string& id : member_ids) {
    Statement add(db_.get(), "INSERT OR IGNORE INTO keep_members (id) VALUES (?1)");
    add.bind(1, id);
    if (auto s = step_done(add, db_.get(), "retaining members"); !s) return s;
  }
  return exec_locked("DELETE FROM member_health WHERE member_id NOT IN (SELECT id FROM keep_members)");
}

Status StateStore::add_significant_record(const SignificantRecord& r) {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(),
                 "INSERT INTO significant_records (at_unix_us, listener_id, pool_id, member_id,"
                 " reason, status, total_us, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  stmt.bind(1, r.at_unix_us).bind(2, r.listener_id).bind(3, r.pool_id).bind(4, r.member_id)
      .bind(5, r.reason).bind(6, r.status).bind(7, r.total_us).bind(8, r.record_json);
  return step_done(stmt, db_.get(), "recording significant record");
}

Status StateStore::upsert_aggregate(const TrafficAggregate& a) {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(),
                 "INSERT OR REPLACE INTO traffic_aggregates (window_start, window_seconds, scope,"
                 " scope_id, requests, errors, bytes_in, bytes_out, p50_us, p95_us, p99_us)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  stmt.bind(1, a.window_start).bind(2, a.window_seconds).bind(3, a.scope).bind(4, a.scope_id)
      .bind(5, a.requests).bind(6, a.errors).bind(7, a.bytes_in).bind(8, a.bytes_out)
      .bind(9, a.p50_us).bind(10, a.p95_us).bind(11, a.p99_us);
  return step_done(stmt, db_.get(), "recording aggregate");
}

Result<int64_t> StateStore::enforce_retention(int64_t now_unix) {
  std::lock_guard lock(mu_);
  if (auto s = exec_locked("BEGIN IMMEDIATE"); !s) return s.error();
  int64_t deleted = 0;
  // Each statement reads its limits from the retention table, so operators tune them with SQL.
  const char* statements[] = {
      "DELETE FROM significant_records WHERE"
      " (SELECT max_age_seconds FROM retention WHERE table_name = 'significant_records') > 0"
      " AND at_unix_us < (?1 - (SELECT max_age_seconds FROM retention"
      "   WHERE table_name = 'significant_records')) * 1000000",
      "DELETE FROM significant_records WHERE id NOT IN (SELECT id FROM significant_records"
      " ORDER BY id DESC LIMIT (SELECT CASE WHEN max_rows > 0 THEN max_rows ELSE -1 END"
      "  FROM retention WHERE table_name = 'significant_records'))",
      "DELETE FROM traffic_aggregates WHERE"
      " (SELECT max_age_seconds FROM retention WHERE table_name = 'traffic_aggregates') > 0"
      " AND window_start < ?1 - (SELECT max_age_seconds FROM retention"
      "   WHERE table_name = 'traffic_aggregates')",
      "DELETE FROM traffic_aggregates WHERE rowid NOT IN (SELECT rowid FROM traffic_aggregates"
      " ORDER BY window_start DESC LIMIT (SELECT CASE WHEN max_rows > 0 THEN max_rows ELSE -1"
      "  END FROM retention WHERE table_name = 'traffic_aggregates'))",
  };
  for (const char* sql : statements) {
    Statement stmt(db_.get(), sql);
    if (std::string_view(sql).find("?1") != std::string_view::npos) stmt.bind(1, now_unix);
    if (auto s = step_done(stmt, db_.get(), "enforcing retention"); !s) {
      exec_locked("ROLLBACK");
      return s.error();
    }
    deleted += sqlite3_changes(db_.get());
  }
  if (auto s = exec_locked("COMMIT"); !s) {
    exec_locked("ROLLBACK");
    return s.error();
  }
  return deleted;
}

Result<int64_t> StateStore::count_rows(std::string_view table) {
  if (std::find(kTables.begin(), kTables.end(), table) == kTables.end()) {
    return StateError{StateErrc::kInvalid, "unknown table " + std::string(table)};
  }
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(), "SELECT COUNT(*) FROM " + std::string(table));
  if (stmt.step() != SQLITE_ROW) return io_error(db_.get(), "counting rows");
  return stmt.column_int(0);
}

}  // namespace pharos::agent::state
