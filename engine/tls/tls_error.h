// Errors of the TLS module, as values: a TLS context is built from config on the control thread
// and a failure must name the config field at fault (a JSON pointer) and say what is wrong.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace pharos::tls {

struct TlsError {
  std::string path;     // JSON pointer of the offending config field
  std::string message;  // for the operator
};

// A value or the TlsError that prevented it.
template <typename T>
class TlsResult {
 public:
  TlsResult(T value) : state_(std::move(value)) {}
  TlsResult(TlsError error) : state_(std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Precondition: ok().
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Precondition: !ok().
  const TlsError& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, TlsError> state_;
};

// For operations that produce nothing but may fail.
struct Done {};
using TlsStatus = TlsResult<Done>;

}  // namespace pharos::tls
