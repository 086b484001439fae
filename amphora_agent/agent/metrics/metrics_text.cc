#include "amphora_agent/agent/metrics/metrics_text.h"

#include <functional>

namespace pharos::agent::metrics {
namespace {

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, const std::string& labels, uint64_t value) {
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

struct Counter {
  const char* suffix;
  const char* type;
  const char* help;
  uint64_t heartbeat::ListenerStats::*field;
};

constexpr Counter kTraffic[] = {
    {"bytes_in_total", "counter", "Bytes received from clients.", &heartbeat::ListenerStats::bytes_in},
    {"bytes_out_total", "counter", "Bytes sent to clients.", &heartbeat::ListenerStats::bytes_out},
    {"active_connections", "gauge", "Connections open now.",
     &heartbeat::ListenerStats::active_connections},
    {"connections_total", "counter", "Connections accepted.",
     &heartbeat::ListenerStats::total_connections},
    {"request_errors_total", "counter", "Requests that ended in error.",
     &heartbeat::ListenerStats::request_errors},
};

}  // namespace

std::string escape_label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render(const EngineSnapshot& s, const std::string& amphora_id) {
  std::string out;
  const std::string amphora = "amphora=\"" + escape_label(amphora_id) + "\"";
  header(out, "pharos_engine_up", "gauge", "1 when the engine answers on its control socket.");
  sample(out, "pharos_engine_up", amphora, s.up ? 1 : 0);
  header(out, "pharos_engine_restarts_total", "counter", "Engine restarts by the agent.");
  sample(out, "pharos_engine_restarts_total", amphora, s.restarts);
  header(out, "pharos_config_version", "gauge", "Engine config version in force.");
  sample(out, "pharos_config_version", amphora, s.config_version);

  for (const Counter& c : kTraffic) {
    const std::string name = std::string("pharos_listener_") + c.suffix;
    header(out, name.c_str(), c.type, c.help);
    for (const auto& [id, stats] : s.listeners) {
      sample(out, name.c_str(), "listener=\"" + escape_label(id) + "\"", stats.*c.field);
    }
  }
  for (const Counter& c : kTraffic) {
    const std::string name = std::string("pharos_member_") + c.suffix;
    header(out, name.c_str(), c.type, c.help);
    for (const auto& [id, m] : s.members) {
      sample(out, name.c_str(), "member=\"" + escape_label(id) + "\"", m.traffic.*c.field);
    }
  }
  header(out, "pharos_member_responses_total", "counter", "Member responses by status class.");
  for (const auto& [id, m] : s.members) {
    for (const auto& [cls, n] : m.responses) {
      sample(out, "pharos_member_responses_total",
             "member=\"" + escape_label(id) + "\",class=\"" + escape_label(cls) + "\"", n);
    }
  }
  header(out, "pharos_member_connect_failures_total", "counter", "Failed connects to the member.");
  for (const auto& [id, m] : s.members) {
    sample(out, "pharos_member_connect_failures_total", "member=\"" + escape_label(id) + "\"",
           m.connect_failures);
  }
  header(out, "pharos_member_up", "gauge", "1 when the engine sends new work to the member.");
  for (const auto& [id, m] : s.members) {
    if (m.status.empty()) continue;
    sample(out, "pharos_member_up",
           "member=\"" + escape_label(id) + "\",status=\"" + escape_label(m.status) + "\"",
           m.status == "UP" ? 1 : 0);
  }
  return out;
}

}  // namespace pharos::agent::metrics
