#include "amphora_agent/agent/agent.h"

#include <cerrno>
#include <cstring>
#include <tuple>

#include <sys/stat.h>

#include "amphora_agent/agent/api/http_server.h"
#include "amphora_agent/agent/api/rest_server.h"
#include "amphora_agent/agent/certificate_store.h"
#include "amphora_agent/agent/config_service.h"
#include "amphora_agent/agent/engine/supervisor.h"
#include "amphora_agent/agent/engine/version_probe.h"
#include "amphora_agent/agent/engine_snapshot.h"
#include "amphora_agent/agent/heartbeat_loop.h"
#include "amphora_agent/agent/log.h"
#include "amphora_agent/agent/logs/records_reader.h"
#include "amphora_agent/agent/members/member_health.h"
#include "amphora_agent/agent/metrics/metrics_text.h"
#include "amphora_agent/state/state_store.h"

namespace pharos::agent {

struct Agent::Parts {
  std::unique_ptr<state::StateStore> store;
  std::unique_ptr<CertificateStore> certificates;
  std::unique_ptr<logs::RecordsReader> records;
  std::unique_ptr<members::MemberHealth> members;
  std::unique_ptr<ConfigService> configs;
  std::unique_ptr<engine::EngineSupervisor> supervisor;
  AgentContext ctx;
  std::unique_ptr<api::HttpServer> rest;
  std::unique_ptr<api::HttpServer> metrics;
  std::unique_ptr<HeartbeatLoop> heartbeat;
};

Agent::Agent(AgentConfig config) : config_(std::move(config)), parts_(std::make_unique<Parts>()) {}

Agent::~Agent() { stop(); }

const AgentContext& Agent::context() const { return parts_->ctx; }

std::string Agent::start() {
  Parts& p = *parts_;
  if (::mkdir(config_.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return "cannot create " + config_.state_dir + ": " + std::strerror(errno);
  }
  auto store = state::StateStore::open(config_.state_dir + "/agent.db");
  if (!store) return "state database: " + store.error().message;
  p.store = std::move(store).value();

  p.certificates = std::make_unique<CertificateStore>(config_.state_dir + "/certs", *p.store);
  if (std::string e = p.certificates->prepare(); !e.empty()) return e;

  logs::RecordsReaderOptions reader;
  reader.socket_path = config_.records_socket;
  reader.reducer.interval_us = uint64_t{config_.logs_interval_s} * 1'000'000;
  reader.reducer.close_grace_us = uint64_t{config_.logs_close_grace_ms} * 1000;
  reader.reducer.sla_total_us = config_.logs_sla_ms * 1000;
  reader.flush_interval = std::chrono::milliseconds(config_.logs_flush_interval_ms);
  reader.retention_interval = std::chrono::seconds(config_.logs_retention_interval_s);
  for (const auto& [table, age, rows] :
       {std::tuple{"significant_records", config_.logs_records_max_age_s,
                   config_.logs_records_max_rows},
        std::tuple{"reduced_aggregates", config_.logs_aggregates_max_age_s,
                   config_.logs_aggregates_max_rows}}) {
    if (auto s = p.store->set_retention(table, static_cast<int64_t>(age),
                                        static_cast<int64_t>(rows));
        !s) {
      return "state database: " + s.error().message;
    }
  }
  // Bound before the engine starts, so its first records have somewhere to go.
  p.records = std::make_unique<logs::RecordsReader>(std::move(reader), *p.store);
  if (std::string e = p.records->start(); !e.empty()) return e;

  engine::SupervisorOptions options;
  options.binary = config_.engine_binary;
  options.control_socket = config_.control_socket;
  options.records_socket = config_.records_socket;
  options.backoff_initial = std::chrono::milliseconds(config_.restart_backoff_initial_ms);
  options.backoff_max = std::chrono::milliseconds(config_.restart_backoff_max_ms);
  options.ready_timeout = std::chrono::milliseconds(config_.engine_ready_timeout_ms);
  options.control_timeout = std::chrono::milliseconds(config_.control_timeout_ms);
  // The supervisor is created before the config service it calls back, and destroyed (thread
  // joined) before it too: see stop().
  p.supervisor = std::make_unique<engine::EngineSupervisor>(options, [&p] {
    if (p.configs) p.configs->reapply_accepted();
  });
  engine::EngineSupervisor* supervisor = p.supervisor.get();
  p.members = std::make_unique<members::MemberHealth>(
      *p.store, [supervisor] { return supervisor->client(); });
  if (std::string e = p.members->start(); !e.empty()) return e;
  members::MemberHealth* member_health = p.members.get();
  p.configs = std::make_unique<ConfigService>(
      config_.amphora_id, *p.store, [supervisor] { return supervisor->client(); },
      [member_health](const config::Config& running) { member_health->configure(running); });

  p.ctx.config = &config_;
  p.ctx.store = p.store.get();
  p.ctx.supervisor = p.supervisor.get();
  p.ctx.configs = p.configs.get();
  p.ctx.certificates = p.certificates.get();
  p.ctx.members = p.members.get();
  p.ctx.records = p.records.get();
  p.ctx.engine_version = engine::probe_engine_version(config_.engine_binary);

  api::HttpServerOptions rest;
  rest.host = config_.bind_host;
  rest.port = config_.bind_port;
  rest.max_body_bytes = config_.max_body_bytes;
  rest.tls.emplace();
  if (std::string e = api::load_tls_material(config_.cert_file, config_.key_file,
                                             config_.ca_file, *rest.tls);
      !e.empty()) {
    return e;
  }
  p.rest = std::make_unique<api::HttpServer>(api::make_v1_router(p.ctx), std::move(rest));
  if (std::string e = p.rest->open(); !e.empty()) return e;

  if (config_.metrics_port != 0) {
    api::Router router;
    const AgentContext* ctx = &p.ctx;
    router.add("GET", "/metrics", [ctx](const api::ApiRequest&) {
      api::ApiResponse response;
      response.content_type = metrics::kContentType;
      response.body = metrics::render(take_engine_snapshot(*ctx), ctx->config->amphora_id);
      return response;
    });
    api::HttpServerOptions plain;
    plain.host = config_.metrics_host;
    plain.port = config_.metrics_port;
    p.metrics = std::make_unique<api::HttpServer>(std::move(router), std::move(plain));
    if (std::string e = p.metrics->open(); !e.empty()) return e;
  }

  p.supervisor->start();
  p.heartbeat = std::make_unique<HeartbeatLoop>(p.ctx);
  if (std::string e = p.heartbeat->start(); !e.empty()) return e;
  log::info("agent for amphora " + config_.amphora_id + " started");
  return "";
}

void Agent::stop() {
  Parts& p = *parts_;
  if (p.heartbeat) p.heartbeat->stop();
  if (p.rest) p.rest->close();
  if (p.metrics) p.metrics->close();
  if (p.supervisor) p.supervisor->stop();
  if (p.members) p.members->stop();
  if (p.records) p.records->stop();
  p.heartbeat.reset();
  p.rest.reset();
  p.metrics.reset();
}

}  // namespace pharos::agent
