// Runs pharos-engine as a child, waits until its control socket answers, hands it the last
// accepted config (through on_ready), and restarts it with exponential backoff when it dies.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "amphora_agent/agent/engine/control_client.h"

namespace pharos::agent::engine {

struct SupervisorOptions {
  std::string binary;
  std::string control_socket;
  std::string records_socket;
  std::vector<std::string> extra_args;  // appended to the command line (tests)
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds stable_after{60000};  // a run this long resets the backoff
  std::chrono::milliseconds ready_timeout{10000};
  std::chrono::milliseconds control_timeout{5000};
};

struct EngineStatus {
  bool up = false;          // running and answering on the control socket
  pid_t pid = 0;            // 0 when not running
  uint64_t restarts = 0;    // starts after the first one
  uint64_t starts = 0;
  std::string last_exit;    // "exit 1", "signal 9", ... of the previous run
  bool drained = false;     // exited on purpose after drain {"exit": true}
};

class EngineSupervisor {
 public:
  // on_ready runs on the supervisor thread each time a (re)started engine answers; it should
  // apply the last accepted config. It must not call stop().
  EngineSupervisor(SupervisorOptions options, std::function<void()> on_ready);
  ~EngineSupervisor();
  EngineSupervisor(const EngineSupervisor&) = delete;
  EngineSupervisor& operator=(const EngineSupervisor&) = delete;

  void start();
  // Stops the engine (SIGTERM, then SIGKILL after a grace period) and the supervisor thread.
  void stop();

  // The next clean exit of the engine is expected (drain with exit) and is not restarted.
  void expect_exit();

  EngineStatus status() const;
  ControlClient client() const {
    return ControlClient(options_.control_socket, options_.control_timeout);
  }

 private:
  void run();
  pid_t spawn();
  bool wait_ready(pid_t pid);
  int wait_child(pid_t pid);
  void set_down(int wait_status);
  bool sleep_unless_stopping(std::chrono::milliseconds delay);

  const SupervisorOptions options_;
  const std::function<void()> on_ready_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool expect_exit_ = false;
  EngineStatus status_;
  std::thread thread_;
};

}  // namespace pharos::agent::engine
