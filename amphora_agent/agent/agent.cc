#include "amphora_agent/agent/agent.h"

#include <cerrno>
#include <cstring>

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
#include "amphora_agent/agent/metrics/metrics_text.h"
#include "amphora_agent/state/state_store.h"

namespace pharos::agent {

struct Agent::Parts {
  std::unique_ptr<state::StateStore> store;
  std::unique_ptr<CertificateStore> certificates;
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
  p.configs = std::make_unique<ConfigService>(config_.amphora_id, *p.store,
                                              [supervisor] { return supervisor->client(); });

  p.ctx.config = &config_;
  p.ctx.store = p.store.get();
  p.ctx.supervisor = p.supervisor.get();
  p.ctx.configs = p.configs.get();
  p.ctx.certificates = p.certificates.get();
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
  p.heartbeat.reset();
  p.rest.reset();
  p.metrics.reset();
}

}  // namespace pharos::agent
