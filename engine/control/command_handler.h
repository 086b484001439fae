// The control commands of schema/engine-control.md: one JSON request in, one JSON reply out.
// Transport-free, so it is tested without sockets.
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

namespace pharos::core {
class Engine;
}

namespace pharos::control {

class CommandHandler {
 public:
  // on_drain_exit is called when a drain asks the engine to exit once idle.
  CommandHandler(core::Engine& engine, std::function<void()> on_drain_exit)
      : engine_(engine), on_drain_exit_(std::move(on_drain_exit)) {}
  nlohmann::json handle(const nlohmann::json& request);

 private:
  nlohmann::json apply_config(const nlohmann::json& request);
  nlohmann::json get_stats() const;
  nlohmann::json set_member_status(const nlohmann::json& request);

  core::Engine& engine_;
  std::function<void()> on_drain_exit_;
};

nlohmann::json error_reply(const std::string& code, const std::string& message);

}  // namespace pharos::control
