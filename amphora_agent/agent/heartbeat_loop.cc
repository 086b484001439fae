#include "amphora_agent/agent/heartbeat_loop.h"

#include <ctime>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "amphora_agent/agent/agent_config.h"
#include "amphora_agent/agent/engine_snapshot.h"
#include "amphora_agent/agent/log.h"
#include "amphora_agent/agent/logs/traffic_summary.h"
#include "amphora_agent/agent/members/member_health.h"
#include "amphora_agent/heartbeat/heartbeat_codec.h"
#include "amphora_agent/state/state_store.h"

namespace pharos::agent {

ProcessUsage read_process_usage(pid_t pid) {
  ProcessUsage usage;
  if (pid <= 0) return usage;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return usage;
  // Fields after the ")" that closes comm: state is field 3, utime 14, stime 15, rss 24.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return usage;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14 || index == 15) usage.cpu_ticks += std::stoull(field);
    if (index == 24) {
      usage.rss_bytes = std::stoull(field) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
      break;
    }
  }
  return usage;
}

std::string HeartbeatLoop::start() {
  if (ctx_.config->heartbeat_targets.empty()) {
    log::warning("no heartbeat targets configured; heartbeats are off");
    return "";
  }
  if (std::string e = sender_.open(ctx_.config->heartbeat_targets); !e.empty()) return e;
  thread_ = std::thread([this] { run(); });
  return "";
}

void HeartbeatLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

heartbeat::HeartbeatPayload HeartbeatLoop::build() {
  const EngineSnapshot snap = take_engine_snapshot(ctx_);
  heartbeat::HeartbeatPayload p;
  auto seq = ctx_.store->next_heartbeat_seq();
  p.seq = seq ? seq.value() : 0;
  p.timestamp_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  p.amphora_id = ctx_.config->amphora_id;
  p.config_version = snap.config_version;
  p.engine_up = snap.up;
  p.engine_restarts = snap.restarts;
  p.listeners = snap.listeners;
  const int64_t now = std::time(nullptr);
  for (const auto& [id, m] : ctx_.members->members()) {
    p.members[id] = members::operating_status(m);
    // The engine drains a member on request; that wins over what the checks say.
    auto live = snap.members.find(id);
    if (live != snap.members.end() && live->second.status == "DRAINING") {
      p.members[id] = "DRAINING";
    }
    ctx_.store->set_member_status(id, p.members[id], now);
  }
  for (const auto& [id, l] : snap.listeners) p.resources.connections += l.active_connections;

  const ProcessUsage engine = read_process_usage(snap.pid);
  const ProcessUsage self = read_process_usage(::getpid());
  p.resources.rss_bytes = engine.rss_bytes + self.rss_bytes;
  const uint64_t ticks = engine.cpu_ticks + self.cpu_ticks;
  const auto sampled = std::chrono::steady_clock::now();
  if (last_sample_.time_since_epoch().count() != 0 && ticks >= last_cpu_ticks_) {
    const double seconds = std::chrono::duration<double>(sampled - last_sample_).count();
    const double tick_s = 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
    if (seconds > 0) {
      p.resources.cpu_percent =
          100.0 * static_cast<double>(ticks - last_cpu_ticks_) * tick_s / seconds;
    }
  }
  last_cpu_ticks_ = ticks;
  last_sample_ = sampled;
  // Quality over the most recent closed interval(s): anything that ended within two intervals
  // and the close grace of now.
  const int64_t window_us = 2 * int64_t{ctx_.config->logs_interval_s} * 1'000'000 +
                            int64_t{ctx_.config->logs_close_grace_ms} * 1000;
  state::AggregateQuery recent;
  recent.since_us = static_cast<int64_t>(p.timestamp_ms) * 1000 - window_us;
  if (auto rows = ctx_.store->query_aggregates(recent)) {
    logs::Quality quality = logs::quality_of(rows.value());
    p.listener_quality = std::move(quality.listeners);
    p.pool_quality = std::move(quality.pools);
  }
  return p;
}

void HeartbeatLoop::run() {
  const auto interval = std::chrono::seconds(ctx_.config->heartbeat_interval_s);
  for (;;) {
    const auto encoded = heartbeat::encode(build(), ctx_.config->heartbeat_key);
    if (!encoded.ok()) {
      log::error("heartbeat too large to send; members or listeners exceed one datagram");
    } else if (sender_.send(encoded.datagram) == 0) {
      log::warning("no heartbeat target took the datagram");
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, interval, [this] { return stopping_; })) return;
  }
}

}  // namespace pharos::agent
