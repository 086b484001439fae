#include "amphora_agent/agent/config_service.h"

#include <ctime>

#include "amphora_agent/agent/log.h"
#include "engine/config/config_loader.h"

namespace pharos::agent {
namespace {

std::vector<api::FieldError> engine_errors(const nlohmann::json& reply) {
  std::vector<api::FieldError> out;
  auto it = reply.find("errors");
  if (it == reply.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (!e.is_object()) continue;
    api::FieldError f;
    if (auto p = e.find("path"); p != e.end() && p->is_string()) f.path = p->get<std::string>();
    if (auto m = e.find("message"); m != e.end() && m->is_string()) {
      f.message = m->get<std::string>();
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

ConfigService::ConfigService(std::string amphora_id, state::StateStore& store,
                             std::function<engine::ControlClient()> client,
                             RunningListener on_running)
    : amphora_id_(std::move(amphora_id)),
      store_(store),
      client_(std::move(client)),
      on_running_(std::move(on_running)) {}

ApplyResult ConfigService::apply(const nlohmann::json& document) {
  ApplyResult result;
  const auto loaded = pharos::config::load_config(document);
  if (!loaded.ok()) {
    result.outcome = ApplyOutcome::kInvalid;
    for (const auto& e : loaded.errors) result.errors.push_back({e.path, e.message});
    result.message = "the engine config is invalid";
    return result;
  }
  result.version = loaded.config->version;
  if (!loaded.config->amphora_id.empty() && loaded.config->amphora_id != amphora_id_) {
    result.outcome = ApplyOutcome::kInvalid;
    result.errors.push_back({"/amphora_id", "is " + loaded.config->amphora_id +
                                                " but this agent serves amphora " + amphora_id_});
    result.message = "the config is for another amphora";
    return result;
  }

  const std::string text = document.dump();
  std::lock_guard lock(apply_mu_);
  auto current = store_.current_config();
  if (!current) {
    result.outcome = ApplyOutcome::kInternal;
    result.message = current.error().message;
    return result;
  }
  if (current.value()) {
    const auto& accepted = *current.value();
    if (result.version == accepted.version && state::sha256_hex(text) == accepted.sha256) {
      result.outcome = ApplyOutcome::kUnchanged;
      result.message = "version " + std::to_string(result.version) + " is already accepted";
      return result;
    }
    if (result.version <= accepted.version) {
      result.outcome = ApplyOutcome::kConflict;
      result.message = "version " + std::to_string(result.version) +
                       " is not above the accepted version " + std::to_string(accepted.version);
      result.errors.push_back({"/version", result.message});
      return result;
    }
  }

  const auto reply = client_().apply_config(document);
  if (reply.errc == engine::ControlErrc::kRejected) {
    result.outcome = ApplyOutcome::kInvalid;
    result.errors = engine_errors(reply.body);
    result.message = "the engine refused the config: " + reply.message;
    return result;
  }
  if (!reply.ok()) {
    result.outcome = ApplyOutcome::kEngineUnavailable;
    result.message = std::string("the engine is unavailable (") + engine::to_string(reply.errc) +
                     "): " + reply.message;
    return result;
  }
  applied_version_.store(result.version);
  if (on_running_) on_running_(*loaded.config);
  if (auto s = store_.record_config(result.version, text, std::time(nullptr)); !s) {
    // The engine runs it but a restart would bring back the previous one: say so loudly.
    log::error("config " + std::to_string(result.version) +
               " applied but not recorded: " + s.error().message);
    result.outcome = ApplyOutcome::kInternal;
    result.message = "the config was applied but could not be recorded: " + s.error().message;
    return result;
  }
  result.outcome = ApplyOutcome::kApplied;
  log::info("config version " + std::to_string(result.version) + " applied");
  return result;
}

void ConfigService::reapply_accepted() {
  std::lock_guard lock(apply_mu_);
  applied_version_.store(0);  // a new engine runs nothing until the apply below succeeds
  auto current = store_.current_config();
  if (!current) {
    log::error("cannot read the accepted config: " + current.error().message);
    return;
  }
  if (!current.value()) {
    log::info("no accepted config yet; the engine waits for the controller");
    return;
  }
  const auto& accepted = *current.value();
  const auto document = nlohmann::json::parse(accepted.document, nullptr, false);
  if (document.is_discarded()) {
    log::error("the recorded config " + std::to_string(accepted.version) + " is not JSON");
    return;
  }
  const auto reply = client_().apply_config(document);
  if (!reply.ok()) {
    log::error("re-applying config " + std::to_string(accepted.version) + " failed (" +
               engine::to_string(reply.errc) + "): " + reply.message);
    return;
  }
  applied_version_.store(accepted.version);
  if (on_running_) {
    const auto loaded = pharos::config::load_config(document);
    if (loaded.ok()) on_running_(*loaded.config);
  }
  log::info("re-applied accepted config version " + std::to_string(accepted.version));
}

}  // namespace pharos::agent
