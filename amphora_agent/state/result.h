// Errors as values for the agent's state layer: a Result<T> holds either a T or a StateError.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace pharos::agent::state {

enum class StateErrc {
  kIo,            // SQLite or filesystem failure
  kSchema,        // migration failed, or the database is newer than this agent
  kInvalid,       // the caller passed something the schema refuses
};

struct StateError {
  StateErrc code = StateErrc::kIo;
  std::string message;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}          // NOLINT
  Result(StateError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const StateError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, StateError> v_;
};

using Status = Result<std::monostate>;
inline Status ok_status() { return Status(std::monostate{}); }

}  // namespace pharos::agent::state
