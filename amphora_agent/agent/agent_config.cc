#include "amphora_agent/agent/agent_config.h"

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace pharos::agent {
namespace {

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

template <typename T>
bool parse_uint(const std::string& text, T& out, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) return false;
  out = static_cast<T>(v);
  return true;
}

using Setter = std::function<std::string(AgentConfig&, const std::string&)>;

Setter string_field(std::string AgentConfig::*field, bool absolute_path = false) {
  return [field, absolute_path](AgentConfig& c, const std::string& v) -> std::string {
    if (absolute_path && (v.empty() || v.front() != '/')) return "must be an absolute path";
    c.*field = v;
    return "";
  };
}

template <typename T>
Setter uint_field(T AgentConfig::*field, uint64_t min, uint64_t max) {
  return [field, min, max](AgentConfig& c, const std::string& v) -> std::string {
    if (!parse_uint(v, c.*field, min, max)) {
      return "must be an integer in " + std::to_string(min) + ".." + std::to_string(max);
    }
    return "";
  };
}

const std::map<std::string, std::map<std::string, Setter>>& schema() {
  static const auto* table = new std::map<std::string, std::map<std::string, Setter>>{
      {"amphora", {{"amphora_id", string_field(&AgentConfig::amphora_id)}}},
      {"api",
       {{"bind_host", string_field(&AgentConfig::bind_host)},
        {"bind_port", uint_field(&AgentConfig::bind_port, 1, 65535)},
        {"cert_file", string_field(&AgentConfig::cert_file, true)},
        {"key_file", string_field(&AgentConfig::key_file, true)},
        {"ca_file", string_field(&AgentConfig::ca_file, true)},
        {"max_body_bytes", uint_field(&AgentConfig::max_body_bytes, 1024, 64ull << 20)}}},
      {"state", {{"state_dir", string_field(&AgentConfig::state_dir, true)}}},
      {"engine",
       {{"binary", string_field(&AgentConfig::engine_binary, true)},
        {"control_socket", string_field(&AgentConfig::control_socket, true)},
        {"records_socket", string_field(&AgentConfig::records_socket, true)},
        {"restart_backoff_initial_ms",
         uint_field(&AgentConfig::restart_backoff_initial_ms, 1, 600000)},
        {"restart_backoff_max_ms", uint_field(&AgentConfig::restart_backoff_max_ms, 1, 3600000)},
        {"ready_timeout_ms", uint_field(&AgentConfig::engine_ready_timeout_ms, 100, 600000)},
        {"control_timeout_ms", uint_field(&AgentConfig::control_timeout_ms, 100, 600000)}}},
      {"heartbeat",
       {{"targets",
         [](AgentConfig& c, const std::string& v) -> std::string {
           c.heartbeat_targets.clear();
           std::stringstream list(v);
           std::string item;
           while (std::getline(list, item, ',')) {
             item = trim(item);
             if (item.empty()) continue;
             auto target = heartbeat::parse_target(item);
             if (!target) return "'" + item + "' is not host:port or [v6]:port";
             c.heartbeat_targets.push_back(*target);
           }
           return "";
         }},
        {"key", string_field(&AgentConfig::heartbeat_key)},
        {"interval", uint_field(&AgentConfig::heartbeat_interval_s, 1, 3600)}}},
      {"logs",
       {{"interval", uint_field(&AgentConfig::logs_interval_s, 1, 3600)},
        {"close_grace_ms", uint_field(&AgentConfig::logs_close_grace_ms, 0, 600000)},
        {"sla_ms", uint_field(&AgentConfig::logs_sla_ms, 0, 3600000)},
        {"flush_interval_ms", uint_field(&AgentConfig::logs_flush_interval_ms, 10, 600000)},
        {"retention_interval", uint_field(&AgentConfig::logs_retention_interval_s, 1, 86400)},
        {"records_max_rows", uint_field(&AgentConfig::logs_records_max_rows, 0, 1ull << 40)},
        {"records_max_age", uint_field(&AgentConfig::logs_records_max_age_s, 0, 1ull << 40)},
        {"aggregates_max_rows",
         uint_field(&AgentConfig::logs_aggregates_max_rows, 0, 1ull << 40)},
        {"aggregates_max_age",
         uint_field(&AgentConfig::logs_aggregates_max_age_s, 0, 1ull << 40)}}},
      {"metrics",
       {{"bind_host", string_field(&AgentConfig::metrics_host)},
        {"bind_port", uint_field(&AgentConfig::metrics_port, 0, 65535)}}},
  };
  return *table;
}

}  // namespace

AgentConfigResult parse_agent_config(const std::string& text, const std::string& origin) {
  AgentConfigResult result;
  std::istringstream in(text);
  std::string raw;
  std::string section;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string where = origin + ":" + std::to_string(line_no) + ": ";
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        result.errors.push_back(where + "unterminated section header");
        continue;
      }
      section = trim(std::string_view(line).substr(1, line.size() - 2));
      if (!schema().contains(section)) result.errors.push_back(where + "unknown section [" + section + "]");
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      result.errors.push_back(where + "expected key = value");
      continue;
    }
    const std::string key = trim(std::string_view(line).substr(0, eq));
    const std::string value = trim(std::string_view(line).substr(eq + 1));
    auto sec = schema().find(section);
    if (sec == schema().end()) {
      if (section.empty()) result.errors.push_back(where + "key outside any section");
      continue;
    }
    auto setter = sec->second.find(key);
    if (setter == sec->second.end()) {
      result.errors.push_back(where + "unknown key '" + key + "' in [" + section + "]");
      continue;
    }
    if (std::string message = setter->second(result.config, value); !message.empty()) {
      result.errors.push_back(where + "[" + section + "] " + key + ": " + message);
    }
  }

  const AgentConfig& c = result.config;
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) result.errors.push_back(origin + ": " + what);
  };
  require(!c.amphora_id.empty(), "[amphora] amphora_id is required");
  require(!c.cert_file.empty(), "[api] cert_file is required");
  require(!c.key_file.empty(), "[api] key_file is required");
  require(!c.ca_file.empty(), "[api] ca_file is required");
  require(c.heartbeat_targets.empty() || c.heartbeat_key.size() >= 16,
          "[heartbeat] key of at least 16 bytes is required when targets are set");
  require(c.restart_backoff_initial_ms <= c.restart_backoff_max_ms,
          "[engine] restart_backoff_initial_ms must not exceed restart_backoff_max_ms");
  return result;
}

AgentConfigResult load_agent_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    AgentConfigResult result;
    result.errors.push_back(path + ": cannot be read");
    return result;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_agent_config(buffer.str(), path);
}

}  // namespace pharos::agent
