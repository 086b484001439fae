#include "amphora_agent/state/migrations.h"

#include <string>

#include "amphora_agent/state/sqlite_handle.h"

namespace pharos::agent::state {
namespace {

Status exec(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return StateError{StateErrc::kSchema, text};
  }
  return ok_status();
}

Result<int> user_version(sqlite3* db) {
  Statement stmt(db, "PRAGMA user_version");
  if (stmt.step() != SQLITE_ROW) return StateError{StateErrc::kIo, stmt.error()};
  return static_cast<int>(stmt.column_int(0));
}

}  // namespace

Result<int> migrate(sqlite3* db, std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return StateError{StateErrc::kSchema, "migration " + std::string(migrations[i].name) +
                                                " is out of sequence: expected number " +
                                                std::to_string(i + 1)};
    }
  }
  auto current = user_version(db);
  if (!current) return current.error();
  const int newest = static_cast<int>(migrations.size());
  if (current.value() > newest) {
    return StateError{StateErrc::kSchema,
                      "state database is at schema version " + std::to_string(current.value()) +
                          " but this agent knows only up to " + std::to_string(newest) +
                          "; refusing to downgrade"};
  }
  for (int v = current.value() + 1; v <= newest; ++v) {
    const Migration& m = migrations[static_cast<size_t>(v - 1)];
    // BEGIN IMMEDIATE takes the write lock first, so two agents racing on one file apply each
    // migration once; the loser re-reads user_version below and skips.
    if (auto s = exec(db, "BEGIN IMMEDIATE"); !s) return s.error();
    auto now = user_version(db);
    if (!now) {
      exec(db, "ROLLBACK");
      return now.error();
    }
    if (now.value() >= v) {
      exec(db, "ROLLBACK");
      continue;
    }
    auto applied = exec(db, std::string(m.sql));
    if (applied) applied = exec(db, "PRAGMA user_version = " + std::to_string(v));
    if (applied) applied = exec(db, "COMMIT");
    if (!applied) {
      exec(db, "ROLLBACK");
      return StateError{StateErrc::kSchema,
                        "migration " + std::string(m.name) + " failed: " + applied.error().message};
    }
  }
  return user_version(db);
}

}  // namespace pharos::agent::state
