// The agent's durable state in one SQLite file (WAL): accepted engine configs, certificate
// metadata, member health, reduced logs and the heartbeat sequence. Thread-safe: every call
// takes one mutex, so REST handlers, the supervisor and the heartbeat loop can share it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "amphora_agent/state/migrations.h"
#include "amphora_agent/state/result.h"
#include "amphora_agent/state/sqlite_handle.h"

namespace pharos::agent::state {

struct ConfigVersion {
  uint64_t version = 0;
  std::string document;  // engine config JSON as accepted
  std::string sha256;    // lowercase hex of document
  int64_t accepted_at = 0;
};

struct CertificateMeta {
  std::string id;
  std::string sha256;
  std::string subject;
  int64_t not_after = 0;
  bool has_key = false;
  int64_t size_bytes = 0;
  int64_t updated_at = 0;
};

struct MemberHealth {
  std::string member_id;
  std::string operating_status;  // ONLINE, OFFLINE, DEGRADED, ERROR, DRAINING, NO_MONITOR
  int64_t changed_at = 0;
  int64_t updated_at = 0;
};

struct SignificantRecord {
  int64_t at_unix_us = 0;
  std::string listener_id;
  std::string pool_id;
  std::string member_id;
  std::string reason;
  int64_t status = 0;
  int64_t total_us = 0;
  std::string record_json;
  std::string method;
  std::string path;
  std::string client_address;
  int64_t id = 0;  // assigned by the store; ignored when adding
};

// Filters of search_significant_records; empty or 0 means "any". Newest first.
struct RecordQuery {
  int64_t since_us = 0;  // at_unix_us >= since_us
  int64_t until_us = 0;  // at_unix_us < until_us; 0: no bound
  std::string listener_id;
  std::string pool_id;
  std::string member_id;
  int64_t status = 0;        // exact HTTP status
  int status_class = -1;     // 0 (other: TCP or outside 100..599) or 1..5; -1: any
  std::string path_prefix;
  std::string client_address;
  int64_t before_id = 0;     // paging marker: only ids below it; 0: from the newest
  int64_t offset = 0;
  int64_t limit = 100;
};

// One log reducer aggregate as stored: key, sums, and the whole aggregate encoded
// (amphora_agent/log_reducer/aggregate_codec.h), which the state layer treats as opaque.
struct AggregateRow {
  int64_t interval_start_us = 0;
  int64_t interval_us = 0;
  std::string listener_id;
  std::string pool_id;
  std::string member_id;
  int status_class = 0;  // 0 other, 1..5
  std::string method;
  int64_t count = 0;
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  std::string encoded;
};

// Filters of query_aggregates; empty or 0 means "any". Oldest interval first.
struct AggregateQuery {
  int64_t since_us = 0;  // interval_start_us + interval_us > since_us (overlaps)
  int64_t until_us = 0;  // interval_start_us < until_us; 0: no bound
  std::string listener_id;
  std::string pool_id;
  std::string member_id;
  int status_class = -1;
  int64_t limit = 0;  // 0: no limit
};

// Combines two encodings of aggregates with the same key into one; "" if either is corrupt.
using AggregateMerger = std::string (*)(std::string_view stored, std::string_view added);

// Lowercase hex SHA-256, the digest recorded for configs and certificates.
std::string sha256_hex(std::string_view data);

class StateStore {
 public:
  // Opens (creating if needed) the database, sets WAL, busy timeout and foreign keys, then
  // applies the embedded migrations. The second form takes an explicit migration list (tests).
  static Result<std::unique_ptr<StateStore>> open(const std::string& path);
  static Result<std::unique_ptr<StateStore>> open(const std::string& path,
                                                   std::span<const Migration> migrations);

  int schema_version() const { return schema_version_; }

  // The newest accepted config, or nullopt before the first one.
  Result<std::optional<ConfigVersion>> current_config();
  // Accepted configs, newest first (at most the retention's max_rows).
  Result<std::vector<ConfigVersion>> config_history();
  // Records an accepted config and trims history to the config_versions retention.
  Status record_config(uint64_t version, std::string_view document, int64_t now_unix);

  // Increments and returns the persisted heartbeat sequence (1 for the first heartbeat ever).
  Result<uint64_t> next_heartbeat_seq();

  Status put_certificate(const CertificateMeta& meta);
  Result<bool> delete_certificate(std::string_view id);  // false when there was none
  Result<std::optional<CertificateMeta>> get_certificate(std::string_view id);
  Result<std::vector<CertificateMeta>> list_certificates();

  // Upserts a member's status; returns true when it differs from the stored one.
  Result<bool> set_member_status(std::string_view member_id, std::string_view status,
                                 int64_t now_unix);
  Result<std::vector<MemberHealth>> member_health();
  // Forgets members that are no longer in the running config.
  Status retain_members(const std::vector<std::string>& member_ids);

  Status add_significant_record(const SignificantRecord& record);
  // Adds many in one transaction (the log reducer's flushes).
  Status add_significant_records(std::span<const SignificantRecord> records);
  Result<std::vector<SignificantRecord>> search_significant_records(const RecordQuery& query);

  // Adds each row, merging it into a stored row with the same key (sums added, `merge` for the
  // encoded aggregate), in one transaction.
  Status merge_aggregates(std::span<const AggregateRow> rows, AggregateMerger merge);
  Result<std::vector<AggregateRow>> query_aggregates(const AggregateQuery& query);

  // Sets one table's limits in the retention table (0: no limit).
  Status set_retention(std::string_view table, int64_t max_age_seconds, int64_t max_rows);
  // Deletes what the retention table says is too old or too many; returns rows deleted.
  Result<int64_t> enforce_retention(int64_t now_unix);

  // Rows in one of this schema's tables (for tests and diagnostics); kInvalid for other names.
  Result<int64_t> count_rows(std::string_view table);

 private:
  explicit StateStore(DbHandle db, int schema_version)
      : db_(std::move(db)), schema_version_(schema_version) {}
  Status exec_locked(const char* sql);
  Status insert_significant_locked(const SignificantRecord& record);

  std::mutex mu_;
  DbHandle db_;
  int schema_version_ = 0;
};

}  // namespace pharos::agent::state
