#include "amphora_agent/state/state_store.h"

#include <algorithm>
#include <array>

#include <openssl/evp.h>

namespace pharos::agent::state {
namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr std::array<std::string_view, 7> kTables = {
    "config_versions",    "agent_meta", "certificates",      "member_health",
    "significant_records", "reduced_aggregates", "retention"};

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
  insert.bind(static_cast<int64_t>(version), document, digest, now_unix);
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
  stmt.bind(m.id, m.sha256, m.subject, m.not_after, int64_t{m.has_key ? 1 : 0}, m.size_bytes,
            m.updated_at);
  return step_done(stmt, db_.get(), "recording certificate");
}

Result<bool> StateStore::delete_certificate(std::string_view id) {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(), "DELETE FROM certificates WHERE id = ?1");
  stmt.bind(id);
  if (auto s = step_done(stmt, db_.get(), "deleting certificate"); !s) return s.error();
  return sqlite3_changes(db_.get()) > 0;
}

Result<std::optional<CertificateMeta>> StateStore::get_certificate(std::string_view id) {
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(), std::string(kCertColumns) + " WHERE id = ?1");
  stmt.bind(id);
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
  read.bind(member_id);
  const int rc = read.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return io_error(db_.get(), "reading member health");
  const bool changed = rc == SQLITE_DONE || read.column_text(0) != status;
  Statement write(db_.get(),
                  "INSERT INTO member_health (member_id, operating_status, changed_at, updated_at)"
                  " VALUES (?1, ?2, ?3, ?3) ON CONFLICT(member_id) DO UPDATE SET"
                  " operating_status = excluded.operating_status, updated_at = excluded.updated_at,"
                  " changed_at = CASE WHEN member_health.operating_status = excluded.operating_status"
                  "   THEN member_health.changed_at ELSE excluded.changed_at END");
  write.bind(member_id, status, now_unix);
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
    add.bind(id);
    if (auto s = step_done(add, db_.get(), "retaining members"); !s) return s;
  }
  return exec_locked("DELETE FROM member_health WHERE member_id NOT IN (SELECT id FROM keep_members)");
}

Status StateStore::insert_significant_locked(const SignificantRecord& r) {
  Statement stmt(db_.get(),
                 "INSERT INTO significant_records (at_unix_us, listener_id, pool_id, member_id,"
                 " reason, status, total_us, record, method, path, client_address)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  stmt.bind(r.at_unix_us, r.listener_id, r.pool_id, r.member_id, r.reason, r.status, r.total_us,
            r.record_json, r.method, r.path, r.client_address);
  return step_done(stmt, db_.get(), "recording significant record");
}

Status StateStore::add_significant_record(const SignificantRecord& r) {
  std::lock_guard lock(mu_);
  return insert_significant_locked(r);
}

Status StateStore::add_significant_records(std::span<const SignificantRecord> records) {
  if (records.empty()) return ok_status();
  std::lock_guard lock(mu_);
  if (auto s = exec_locked("BEGIN IMMEDIATE"); !s) return s;
  for (const SignificantRecord& r : records) {
    if (auto s = insert_significant_locked(r); !s) {
      exec_locked("ROLLBACK");
      return s;
    }
  }
  if (auto s = exec_locked("COMMIT"); !s) {
    exec_locked("ROLLBACK");
    return s;
  }
  return ok_status();
}

Result<std::vector<SignificantRecord>> StateStore::search_significant_records(
    const RecordQuery& q) {
  // Every filter is always in the statement and disabled by its "any" value, so one text
  // serves every combination and values are only ever bound, never spliced.
  static constexpr const char* kSql =
      "SELECT id, at_unix_us, listener_id, pool_id, member_id, reason, status, total_us, record,"
      " method, path, client_address FROM significant_records WHERE"
      " at_unix_us >= ?1 AND (?2 = 0 OR at_unix_us < ?2)"
      " AND (?3 = '' OR listener_id = ?3) AND (?4 = '' OR pool_id = ?4)"
      " AND (?5 = '' OR member_id = ?5) AND (?6 = 0 OR status = ?6)"
      " AND (?7 < 0 OR (?7 = 0 AND (status < 100 OR status > 599)) OR status / 100 = ?7)"
      " AND (?8 = '' OR substr(path, 1, length(?8)) = ?8)"
      " AND (?9 = '' OR client_address = ?9) AND (?10 = 0 OR id < ?10)"
      " ORDER BY id DESC LIMIT ?11 OFFSET ?12";
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(), kSql);
  stmt.bind(q.since_us, q.until_us, q.listener_id, q.pool_id, q.member_id, q.status,
            int64_t{q.status_class}, q.path_prefix, q.client_address, q.before_id, q.limit,
            q.offset);
  std::vector<SignificantRecord> out;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) {
    SignificantRecord r;
    r.id = stmt.column_int(0);
    r.at_unix_us = stmt.column_int(1);
    r.listener_id = stmt.column_text(2);
    r.pool_id = stmt.column_text(3);
    r.member_id = stmt.column_text(4);
    r.reason = stmt.column_text(5);
    r.status = stmt.column_int(6);
    r.total_us = stmt.column_int(7);
    r.record_json = stmt.column_text(8);
    r.method = stmt.column_text(9);
    r.path = stmt.column_text(10);
    r.client_address = stmt.column_text(11);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return io_error(db_.get(), "searching significant records");
  return out;
}

Status StateStore::merge_aggregates(std::span<const AggregateRow> rows, AggregateMerger merge) {
  if (rows.empty()) return ok_status();
  std::lock_guard lock(mu_);
  if (auto s = exec_locked("BEGIN IMMEDIATE"); !s) return s;
  auto fail = [this](Status s) {
    exec_locked("ROLLBACK");
    return s;
  };
  for (const AggregateRow& a : rows) {
    Statement read(db_.get(),
                   "SELECT encoded FROM reduced_aggregates WHERE interval_start_us = ?1 AND"
                   " listener_id = ?2 AND pool_id = ?3 AND member_id = ?4 AND status_class = ?5"
                   " AND method = ?6");
    read.bind(a.interval_start_us, a.listener_id, a.pool_id, a.member_id, int64_t{a.status_class},
              a.method);
    const int rc = read.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return fail(io_error(db_.get(), "reading aggregate"));
    }
    std::string encoded = a.encoded;
    if (rc == SQLITE_ROW) {
      encoded = merge(read.column_blob(0), a.encoded);
      if (encoded.empty()) {
        return fail(StateError{StateErrc::kInvalid, "a stored aggregate does not decode"});
      }
    }
    Statement write(db_.get(),
                    "INSERT INTO reduced_aggregates (interval_start_us, interval_us, listener_id,"
                    " pool_id, member_id, status_class, method, count, bytes_in, bytes_out,"
                    " encoded)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                    " ON CONFLICT DO UPDATE SET count = count + excluded.count,"
                    " bytes_in = bytes_in + excluded.bytes_in,"
                    " bytes_out = bytes_out + excluded.bytes_out, encoded = ?12");
    write.bind(a.interval_start_us, a.interval_us, a.listener_id, a.pool_id, a.member_id,
               int64_t{a.status_class}, a.method, a.count, a.bytes_in, a.bytes_out, Blob{a.encoded},
               Blob{encoded});
    if (auto s = step_done(write, db_.get(), "recording aggregate"); !s) return fail(s);
  }
  if (auto s = exec_locked("COMMIT"); !s) return fail(s);
  return ok_status();
}

Result<std::vector<AggregateRow>> StateStore::query_aggregates(const AggregateQuery& q) {
  static constexpr const char* kSql =
      "SELECT interval_start_us, interval_us, listener_id, pool_id, member_id, status_class,"
      " method, count, bytes_in, bytes_out, encoded FROM reduced_aggregates WHERE"
      " interval_start_us + interval_us > ?1 AND (?2 = 0 OR interval_start_us < ?2)"
      " AND (?3 = '' OR listener_id = ?3) AND (?4 = '' OR pool_id = ?4)"
      " AND (?5 = '' OR member_id = ?5) AND (?6 < 0 OR status_class = ?6)"
      " ORDER BY interval_start_us, listener_id, pool_id, member_id, status_class, method"
      " LIMIT ?7";
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(), kSql);
  stmt.bind(q.since_us, q.until_us, q.listener_id, q.pool_id, q.member_id, int64_t{q.status_class},
            q.limit > 0 ? q.limit : int64_t{-1});
  std::vector<AggregateRow> out;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) {
    AggregateRow a;
    a.interval_start_us = stmt.column_int(0);
    a.interval_us = stmt.column_int(1);
    a.listener_id = stmt.column_text(2);
    a.pool_id = stmt.column_text(3);
    a.member_id = stmt.column_text(4);
    a.status_class = static_cast<int>(stmt.column_int(5));
    a.method = stmt.column_text(6);
    a.count = stmt.column_int(7);
    a.bytes_in = stmt.column_int(8);
    a.bytes_out = stmt.column_int(9);
    a.encoded = stmt.column_blob(10);
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return io_error(db_.get(), "reading aggregates");
  return out;
}

Status StateStore::set_retention(std::string_view table, int64_t max_age_seconds,
                                 int64_t max_rows) {
  if (std::find(kTables.begin(), kTables.end(), table) == kTables.end() || max_age_seconds < 0 ||
      max_rows < 0) {
    return StateError{StateErrc::kInvalid, "bad retention for " + std::string(table)};
  }
  std::lock_guard lock(mu_);
  Statement stmt(db_.get(),
                 "INSERT INTO retention (table_name, max_age_seconds, max_rows) VALUES (?1, ?2, ?3)"
                 " ON CONFLICT(table_name) DO UPDATE SET"
                 " max_age_seconds = excluded.max_age_seconds,"
                 " max_rows = excluded.max_rows");
  stmt.bind(table, max_age_seconds, max_rows);
  return step_done(stmt, db_.get(), "setting retention");
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
      "DELETE FROM reduced_aggregates WHERE"
      " (SELECT max_age_seconds FROM retention WHERE table_name = 'reduced_aggregates') > 0"
      " AND interval_start_us + interval_us < (?1 - (SELECT max_age_seconds FROM retention"
      "   WHERE table_name = 'reduced_aggregates')) * 1000000",
      "DELETE FROM reduced_aggregates WHERE rowid NOT IN (SELECT rowid FROM reduced_aggregates"
      " ORDER BY interval_start_us DESC LIMIT (SELECT CASE WHEN max_rows > 0 THEN max_rows"
      "  ELSE -1 END FROM retention WHERE table_name = 'reduced_aggregates'))",
  };
  for (const char* sql : statements) {
    Statement stmt(db_.get(), sql);
    if (std::string_view(sql).find("?1") != std::string_view::npos) stmt.bind(now_unix);
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
