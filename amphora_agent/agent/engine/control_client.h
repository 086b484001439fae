// Client for the engine's control socket (schema/engine-control.md): one JSON line out, one
// JSON line back, over a fresh unix-socket connection per call, bounded by a timeout.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace pharos::agent::engine {

enum class ControlErrc {
  kOk = 0,
  kUnavailable,  // cannot connect: the engine is not running or not ready
  kTimeout,      // no complete reply within the timeout
  kProtocol,     // reply not a JSON object with "ok", or the connection closed early
  kRejected,     // the engine answered {"ok": false, ...}
};

const char* to_string(ControlErrc errc);

struct ControlReply {
  ControlErrc errc = ControlErrc::kUnavailable;
  nlohmann::json body;  // the reply object (also when kRejected: error, message, errors)
  std::string message;  // why, when not kOk
  bool ok() const { return errc == ControlErrc::kOk; }
};

class ControlClient {
 public:
  ControlClient(std::string socket_path, std::chrono::milliseconds timeout)
      : socket_path_(std::move(socket_path)), timeout_(timeout) {}

  // Sends one request object and waits for its reply line.
  ControlReply call(const nlohmann::json& request) const;

  ControlReply apply_config(const nlohmann::json& config) const {
    return call({{"command", "apply_config"}, {"config", config}});
  }
  ControlReply get_version() const { return call({{"command", "get_version"}}); }
  ControlReply get_stats() const { return call({{"command", "get_stats"}}); }
  ControlReply get_member_status() const { return call({{"command", "get_member_status"}}); }
  ControlReply drain(bool exit) const { return call({{"command", "drain"}, {"exit", exit}}); }

  const std::string& socket_path() const { return socket_path_; }

 private:
  std::string socket_path_;
  std::chrono::milliseconds timeout_;
};

}  // namespace pharos::agent::engine
