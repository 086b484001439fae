// Every heartbeat interval: snapshot the engine, record member statuses, sign a heartbeat
// with the next persisted sequence number and send it to every controller.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <sys/types.h>

#include "amphora_agent/agent/agent_context.h"
#include "amphora_agent/heartbeat/heartbeat_payload.h"
#include "amphora_agent/heartbeat/heartbeat_sender.h"

namespace pharos::agent {

// CPU (user + system ticks) and RSS of one process from /proc; zeros when it is gone.
struct ProcessUsage {
  uint64_t cpu_ticks = 0;
  uint64_t rss_bytes = 0;
};
ProcessUsage read_process_usage(pid_t pid);

class HeartbeatLoop {
 public:
  explicit HeartbeatLoop(const AgentContext& ctx) : ctx_(ctx) {}
  ~HeartbeatLoop() { stop(); }

  // Resolves the targets; "" or why not. Starting with no targets is a no-op.
  std::string start();
  void stop();

  // Builds (and persists the sequence of) one heartbeat; public for tests.
  heartbeat::HeartbeatPayload build();

 private:
  void run();

  const AgentContext& ctx_;
  heartbeat::HeartbeatSender sender_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
  uint64_t last_cpu_ticks_ = 0;
  std::chrono::steady_clock::time_point last_sample_{};
};

}  // namespace pharos::agent
