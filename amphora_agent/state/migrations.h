// Forward-only schema migrations under PRAGMA user_version. The SQL lives in
// schema/agent-state/NNNN_name.sql and is embedded at build time.
#pragma once

#include <span>
#include <string_view>

#include <sqlite3.h>

#include "amphora_agent/state/result.h"

namespace pharos::agent::state {

struct Migration {
  int version;            // NNNN from the file name; 1, 2, ... without gaps
  std::string_view name;  // the file name, for messages
  std::string_view sql;
};

// Every file of schema/agent-state/, in version order.
std::span<const Migration> embedded_migrations();

// Applies each migration above the database's user_version, each in its own transaction that
// also bumps user_version. Refuses a database whose user_version is above the newest migration
// and a list that is not numbered 1..N. Returns the resulting user_version.
Result<int> migrate(sqlite3* db, std::span<const Migration> migrations);

}  // namespace pharos::agent::state
