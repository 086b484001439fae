// The engine: its workers, the listening sockets they share, the current config snapshot,
// stats and member states. Called from the control thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/config/config_loader.h"
#include "engine/core/tls_contexts.h"
#include "engine/core/worker.h"
#include "engine/net/socket_ops.h"
#include "engine/persistence/stick_table.h"
#include "engine/proxy/member_state.h"
#include "engine/stats/stats.h"

namespace pharos::core {

struct EngineOptions {
  uint32_t workers = 0;  // 0: one per core
  std::string records_socket;
};

struct ApplyResult {
  std::vector<config::ConfigError> errors;  // empty on success
  std::vector<config::ConfigError> warnings;  // applied anyway; for the operator's log
  bool ok() const { return errors.empty(); }
};

class Engine {
 public:
  explicit Engine(EngineOptions options);
  ~Engine();

  // Applies a validated config atomically: binds new listeners first (any failure changes
  // nothing), then every worker switches, then sockets of removed listeners close.
  ApplyResult apply(std::shared_ptr<const config::Config> config);
  uint64_t version() const { return config_ ? config_->version : 0; }
  std::shared_ptr<const config::Config> config() const { return config_; }
  std::shared_ptr<const nlohmann::json> config_document() const { return document_; }
  void set_document(std::shared_ptr<const nlohmann::json> document) { document_ = std::move(document); }

  bool set_member_status(const std::string& member_id, proxy::MemberStatus status);
  std::map<std::string, proxy::MemberStatus> member_statuses() const { return member_states_.all(); }
  const stats::StatsRegistry& stats() const { return stats_; }
  uint64_t records_written() const;
  uint64_t records_dropped() const;

  // Stops accepting everywhere and asks sessions to finish; idle() tells when they have.
  void begin_drain();
  bool draining() const { return draining_; }
  bool idle() const;
  uint32_t worker_count() const { return static_cast<uint32_t>(workers_.size()); }

 private:
  void run_on_all_workers(const std::function<void(Worker&)>& task);

  EngineOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  stats::StatsRegistry stats_;
  proxy::MemberStatusRegistry member_states_;
  persistence::StickTableRegistry stick_tables_;  // session persistence, kept across applies
  TicketKeys ticket_keys_;  // session ticket keys, kept across applies
  // Per listening address: one socket per worker (SO_REUSEPORT).
  std::map<std::string, std::vector<net::UniqueFd>> sockets_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const nlohmann::json> document_;
  bool draining_ = false;
};

uint32_t default_worker_count();

}  // namespace pharos::core
