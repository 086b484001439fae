// Owning wrappers for sqlite3 handles and a small prepared-statement helper. Private to the
// state module.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <sqlite3.h>

namespace pharos::agent::state {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using DbHandle = std::unique_ptr<sqlite3, SqliteCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// Bytes bound as a BLOB rather than TEXT.
struct Blob {
  std::string_view bytes;
};

// One prepared statement; bind its parameters, then step(). Errors are read from db.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) : db_(db) {
    sqlite3_stmt* raw = nullptr;
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
    stmt_.reset(raw);
  }
  bool prepared() const { return rc_ == SQLITE_OK && stmt_ != nullptr; }

  // Binds `values` to ?1, ?2, ... in order: int64_t as INTEGER, strings as TEXT, Blob as BLOB.
  // The first failure is kept and returned by step().
  template <typename... Values>
  Statement& bind(const Values&... values) {
    int index = 0;
    (bind_one(++index, values), ...);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() {
    if (rc_ != SQLITE_OK) return rc_;
    return sqlite3_step(stmt_.get());
  }

  int64_t column_int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  std::string column_text(int col) const {
    const unsigned char* text = sqlite3_column_text(stmt_.get(), col);
    return text ? std::string(reinterpret_cast<const char*>(text),
                              static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), col)))
                : std::string();
  }
  std::string column_blob(int col) const {
    const void* data = sqlite3_column_blob(stmt_.get(), col);
    return data ? std::string(static_cast<const char*>(data),
                              static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), col)))
                : std::string();
  }
  std::string error() const { return sqlite3_errmsg(db_); }

 private:
  void bind_one(int index, int64_t value) { track(sqlite3_bind_int64(stmt_.get(), index, value)); }
  void bind_one(int index, std::string_view value) {
    track(sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                            SQLITE_TRANSIENT));
  }
  void bind_one(int index, Blob value) {
    track(sqlite3_bind_blob(stmt_.get(), index, value.bytes.data(),
                            static_cast<int>(value.bytes.size()), SQLITE_TRANSIENT));
  }

  void track(int rc) {
    if (rc_ == SQLITE_OK) rc_ = rc;
  }
  sqlite3* db_;
  StatementHandle stmt_;
  int rc_ = SQLITE_OK;
};

}  // namespace pharos::agent::state
