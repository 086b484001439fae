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
};

struct TrafficAggregate {
  int64_t window_start = 0;
  int64_t window_seconds = 0;
  std::string scope;  // listener, pool, member
  std::string scope_id;
  int64_t requests = 0;
  int64_t errors = 0;
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  int64_t p50_us = 0;
  int64_t p95_us = 0;
  int64_t p99_us = 0;
};

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
  Status upsert_aggregate(const TrafficAggregate& aggregate);
  // Deletes what the retention table says is too old or too many; returns rows deleted.
  Result<int64_t> enforce_retention(int64_t now_unix);

  // Rows in one of this schema's tables (for tests and diagnostics); kInvalid for other names.
  Result<int64_t> count_rows(std::string_view table);

 private:
  explicit StateStore(DbHandle db, int schema_version)
      : db_(std::move(db)), schema_version_(schema_version) {}
  Status exec_locked(const char* sql);

  std::mutex mu_;
  DbHandle db_;
  int schema_version_ = 0;
};

}  // namespace pharos::agent::state
