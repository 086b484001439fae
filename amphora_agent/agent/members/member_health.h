// Member health for the running config: drives pharos_health's HealthChecker from each pool's
// HealthMonitor, and turns every decision into the engine's member status (set_member_status),
// a member_health row in SQLite and the Octavia operating status that GET /v1/status and the
// heartbeat report. Decisions arrive on the checker thread and are handed to one worker
// thread (an inbox), so the checker never waits on the engine or the database.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "amphora_agent/agent/engine/control_client.h"
#include "amphora_agent/health/health_types.h"

namespace pharos::config {
struct Config;
}
namespace pharos::health {
class HealthChecker;
}
namespace pharos::agent::state {
class StateStore;
}

namespace pharos::agent::members {

// What the agent knows of one member of the running config.
struct MemberState {
  std::string pool_id;
  bool admin_up = true;   // member and pool admin_state_up
  bool monitored = false; // an enabled HealthMonitor checks it
  health::MemberStatus health = health::MemberStatus::kUnknown;
  int64_t changed_at = 0;  // unix seconds of the last health decision; 0 before one
};

// Octavia operating status: OFFLINE (admin down), NO_MONITOR, ERROR (checks say down) or
// ONLINE (checks say up, or no decision yet: a member is assumed up until checks fail).
std::string operating_status(const MemberState& member);

// The checks for `config`'s members: enabled monitors only, admin-up members of admin-up pools,
// Octavia's seconds as milliseconds.
std::vector<health::MemberCheck> member_checks(const config::Config& config);

class MemberHealth {
 public:
  MemberHealth(state::StateStore& store, std::function<engine::ControlClient()> client);
  ~MemberHealth();
  MemberHealth(const MemberHealth&) = delete;
  MemberHealth& operator=(const MemberHealth&) = delete;

  // Starts the checker and the worker; "" or why not.
  std::string start();
  void stop();

  // The engine now runs `config`: checks follow it, statuses are recorded, and the engine gets
  // every member's health-derived status again (a restarted engine starts every member UP).
  void configure(const config::Config& config);

  // Members of the running config; empty before the first config.
  std::map<std::string, MemberState> members() const;

 private:
  struct Event {
    std::string member_id;            // empty: push every member's status to the engine
    health::MemberStatus status = health::MemberStatus::kUnknown;
    std::string reason;
  };
  void post(Event event);
  void run();
  void handle(const Event& event);
  void push_all();

  state::StateStore& store_;
  const std::function<engine::ControlClient()> client_;
  std::unique_ptr<health::HealthChecker> checker_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, MemberState> members_;
  std::map<std::string, health::MemberCheck> checks_;
  std::deque<Event> inbox_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace pharos::agent::members
