#include "engine/control/command_handler.h"

#include "engine/config/config_loader.h"
#include "engine/core/engine.h"

namespace pharos::control {

using nlohmann::json;

json error_reply(const std::string& code, const std::string& message) {
  return json{{"ok", false}, {"error", code}, {"message", message}};
}

json CommandHandler::handle(const json& request) {
  if (!request.is_object() || !request.contains("command") || !request["command"].is_string()) {
    return error_reply("bad_request", "a request is a JSON object with a string \"command\"");
  }
  const std::string command = request["command"];
  if (command == "apply_config") return apply_config(request);
  if (command == "get_version") return json{{"ok", true}, {"version", engine_.version()}};
  if (command == "get_config") {
    auto document = engine_.config_document();
    return json{{"ok", true}, {"config", document ? *document : json(nullptr)}};
  }
  if (command == "get_stats") return get_stats();
  if (command == "set_member_status") return set_member_status(request);
  if (command == "get_member_status") {
    json members = json::object();
    for (const auto& [id, status] : engine_.member_statuses()) {
      members[id] = proxy::member_status_name(status);
    }
    return json{{"ok", true}, {"members", members}};
  }
  if (command == "drain") {
    bool exit = request.value("exit", false);
    engine_.begin_drain();
    if (exit && on_drain_exit_) on_drain_exit_();
    return json{{"ok", true}};
  }
  return error_reply("unknown_command", "unknown command \"" + command + "\"");
}

json CommandHandler::apply_config(const json& request) {
  if (!request.contains("config")) {
    return error_reply("bad_request", "apply_config needs \"config\"");
  }
  if (engine_.draining()) return error_reply("draining", "the engine is draining");
  auto loaded = config::load_config(request["config"]);
  auto errors = loaded.errors;
  if (loaded.ok()) {
    auto applied = engine_.apply(loaded.config);
    errors = applied.errors;
    if (applied.ok()) {
      engine_.set_document(std::make_shared<const json>(request["config"]));
      json reply{{"ok", true}, {"version", engine_.version()}};
      if (!applied.warnings.empty()) {
        json warnings = json::array();
        for (const auto& w : applied.warnings) warnings.push_back({{"path", w.path}, {"message", w.message}});
        reply["warnings"] = warnings;
      }
      return reply;
    }
  }
  json list = json::array();
  for (const auto& error : errors) list.push_back({{"path", error.path}, {"message", error.message}});
  json reply = error_reply("invalid_config", config::format_errors(errors));
  reply["errors"] = list;
  return reply;
}

namespace {

json traffic_json(const stats::TrafficTotals& t) {
  return json{{"bytes_in", t.bytes_in},
              {"bytes_out", t.bytes_out},
              {"active_connections", t.active_connections},
              {"total_connections", t.total_connections},
              {"request_errors", t.request_errors}};
}

}  // namespace

json CommandHandler::get_stats() const {
  json listeners = json::object();
  for (const auto& [id, totals] : engine_.stats().listener_totals()) listeners[id] = traffic_json(totals);
  json members = json::object();
  for (const auto& [id, totals] : engine_.stats().member_totals()) {
    json entry = traffic_json(totals.traffic);
    json responses = json::object();
    for (int c = 0; c < static_cast<int>(stats::ResponseClass::kCount); ++c) {
      responses[stats::response_class_name(static_cast<stats::ResponseClass>(c))] = totals.responses[c];
    }
    entry["responses"] = responses;
    entry["connect_failures"] = totals.connect_failures;
    members[id] = entry;
  }
  return json{{"ok", true},
              {"version", engine_.version()},
              {"listeners", listeners},
              {"members", members},
              {"records", {{"written", engine_.records_written()}, {"dropped", engine_.records_dropped()}}}};
}

json CommandHandler::set_member_status(const json& request) {
  if (!request.contains("member_id") || !request["member_id"].is_string()) {
    return error_reply("bad_request", "set_member_status needs a string \"member_id\"");
  }
  if (!request.contains("status") || !request["status"].is_string()) {
    return error_reply("bad_request", "set_member_status needs \"status\": UP, DOWN or DRAINING");
  }
  auto status = proxy::parse_member_status(request["status"].get<std::string>());
  if (!status) return error_reply("bad_request", "status must be UP, DOWN or DRAINING");
  if (!engine_.set_member_status(request["member_id"], *status)) {
    return error_reply("not_found", "no member with id " + request["member_id"].get<std::string>());
  }
  return json{{"ok", true}};
}

}  // namespace pharos::control
