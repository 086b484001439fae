#include "engine/octavia/octavia_compiler.h"

#include <map>

namespace pharos::octavia {

using nlohmann::json;

namespace {

// Collects errors while walking the tree; knows the path of what it is looking at.
class Compiler {
 public:
  explicit Compiler(const json& tree) : tree_(tree) {}

  CompileResult run() {
    CompileResult result;
    if (!tree_.is_object()) {
      invalid("", "the load balancer tree must be a JSON object");
      result.errors = std::move(errors_);
      return result;
    }
    json config = json::object();
    config["version"] = tree_.value("version", 1);
    copy_if_set(tree_, "amphora_id", config);
    copy_if_set(tree_, "workers", config);
    copy_if_set(tree_, "records_socket", config);
    const json lb = tree_.value("loadbalancer", json::object());
    bool lb_up = value_or(lb, "admin_state_up", true);
    const json vip = lb.contains("vip_address") ? lb["vip_address"] : json();
    if (!vip.is_string()) invalid("/loadbalancer/vip_address", "the load balancer has no VIP address");
    config["listeners"] = json::array();
    const json listeners = tree_.value("listeners", json::array());
    for (size_t i = 0; i < listeners.size(); ++i) {
      config["listeners"].push_back(listener(listeners[i], "/listeners/" + std::to_string(i), vip, lb_up));
    }
    config["pools"] = json::array();
    const json pools = tree_.value("pools", json::array());
    for (size_t i = 0; i < pools.size(); ++i) {
      config["pools"].push_back(pool(pools[i], "/pools/" + std::to_string(i)));
    }
    if (errors_.empty()) {
      // The engine's loader has the last word; its paths use the same indexes and mostly the
      // same names, so they are reported against the tree as they are.
      auto loaded = config::load_config(config);
      for (auto& error : loaded.errors) invalid(error.path, error.message);
    }
    result.config = std::move(config);
    result.errors = std::move(errors_);
    return result;
  }

 private:
  static bool is_set(const json& object, const char* key) {
    return object.is_object() && object.contains(key) && !object[key].is_null();
  }
  template <typename T>
  static T value_or(const json& object, const char* key, T fallback) {
    return is_set(object, key) ? object[key].get<T>() : fallback;
  }
  static void copy_if_set(const json& from, const char* key, json& to, const char* as = nullptr) {
    if (is_set(from, key)) to[as ? as : key] = from[key];
  }
  void unsupported(const std::string& path, const std::string& message) {
    errors_.push_back({CompileErrorKind::kUnsupported, path, message});
  }
  void invalid(const std::string& path, const std::string& message) {
    errors_.push_back({CompileErrorKind::kInvalid, path, message});
  }
  // Octavia fields Pharos does not implement: refused when set to anything but "off".
  void refuse_if_set(const json& object, const std::string& path, const char* key, const std::string& what) {
    if (!is_set(object, key)) return;
    const json& v = object[key];
    bool empty = (v.is_array() || v.is_object() || v.is_string()) && v.empty();
    if (v.is_boolean() && !v.get<bool>()) empty = true;
    if (!empty) unsupported(path + "/" + key, what + " is not supported by the pharos provider yet");
  }

  json listener(const json& in, const std::string& path, const json& vip, bool lb_up) {
    json out = json::object();
    if (!in.is_object()) {
      invalid(path, "a listener must be an object");
      return out;
    }
    copy_if_set(in, "listener_id", out, "id");
    copy_if_set(in, "name", out);
    std::string protocol = value_or<std::string>(in, "protocol", "");
    if (protocol == "UDP" || protocol == "SCTP" || protocol == "PROMETHEUS") {
      unsupported(path + "/protocol", protocol + " listeners are not supported by the pharos provider yet");
    } else if (protocol == "TERMINATED_HTTPS") {
      unsupported(path + "/protocol",
                  "TERMINATED_HTTPS listeners are not supported by the pharos provider yet");
    }
    out["protocol"] = protocol;
    if (vip.is_string()) out["bind_address"] = vip;
    copy_if_set(in, "protocol_port", out);
    out["admin_state_up"] = lb_up && value_or(in, "admin_state_up", true);
    copy_if_set(in, "connection_limit", out);
    for (const char* key : {"timeout_client_data", "timeout_member_connect", "timeout_member_data",
                            "timeout_tcp_inspect"}) {
      copy_if_set(in, key, out);
    }
    if (is_set(in, "allowed_cidrs") && !in["allowed_cidrs"].empty()) out["allowed_cidrs"] = in["allowed_cidrs"];
    if (is_set(in, "insert_headers") && in["insert_headers"].is_object()) {
      json headers = json::object();
      for (const auto& [name, value] : in["insert_headers"].items()) {
        if (name == "X-Forwarded-For" || name == "X-Forwarded-Port" || name == "X-Forwarded-Proto") {
          headers[name] = value;
        } else {
          unsupported(path + "/insert_headers/" + name,
                      "insert_headers " + name + " is not supported by the pharos provider yet");
        }
      }
      if (!headers.empty()) out["insert_headers"] = headers;
    }
    copy_if_set(in, "default_pool_id", out);
    refuse_if_set(in, path, "l7policies", "L7 policies");
    refuse_if_set(in, path, "default_tls_container_data", "TLS termination");
    refuse_if_set(in, path, "sni_container_data", "SNI certificates");
    refuse_if_set(in, path, "client_ca_tls_container_data", "client authentication");
    if (is_set(in, "client_authentication") && in["client_authentication"] != "NONE") {
      unsupported(path + "/client_authentication", "client authentication is not supported by the pharos provider yet");
    }
    return out;
  }

  json pool(const json& in, const std::string& path) {
    json out = json::object();
    if (!in.is_object()) {
      invalid(path, "a pool must be an object");
      return out;
    }
    copy_if_set(in, "pool_id", out, "id");
    copy_if_set(in, "name", out);
    std::string protocol = value_or<std::string>(in, "protocol", "");
    if (protocol == "UDP" || protocol == "SCTP") {
      unsupported(path + "/protocol", protocol + " pools are not supported by the pharos provider yet");
    } else if (protocol == "PROXY" || protocol == "PROXYV2") {
      unsupported(path + "/protocol", "the PROXY protocol towards members is not supported by the pharos provider yet");
    }
    out["protocol"] = protocol;
    std::string algorithm = value_or<std::string>(in, "lb_algorithm", "ROUND_ROBIN");
    out["lb_algorithm"] = algorithm;
    out["admin_state_up"] = value_or(in, "admin_state_up", true);
    refuse_if_set(in, path, "session_persistence", "session persistence");
    refuse_if_set(in, path, "tls_enabled", "re-encryption to members (tls_enabled)");
    refuse_if_set(in, path, "tls_container_data", "client certificates towards members");
    refuse_if_set(in, path, "ca_tls_container_data", "member certificate verification");
    out["members"] = json::array();
    const json members = in.value("members", json::array());
    for (size_t i = 0; i < members.size(); ++i) {
      out["members"].push_back(member(members[i], path + "/members/" + std::to_string(i)));
    }
    if (is_set(in, "healthmonitor")) out["healthmonitor"] = healthmonitor(in["healthmonitor"], path + "/healthmonitor");
    return out;
  }

  json member(const json& in, const std::string& path) {
    json out = json::object();
    if (!in.is_object()) {
      invalid(path, "a member must be an object");
      return out;
    }
    copy_if_set(in, "member_id", out, "id");
    copy_if_set(in, "name", out);
    copy_if_set(in, "address", out);
    copy_if_set(in, "protocol_port", out);
    copy_if_set(in, "weight", out);
    copy_if_set(in, "backup", out);
    copy_if_set(in, "admin_state_up", out);
    copy_if_set(in, "monitor_address", out);
    copy_if_set(in, "monitor_port", out);
    return out;
  }

  json healthmonitor(const json& in, const std::string& path) {
    json out = json::object();
    if (!in.is_object()) {
      invalid(path, "a health monitor must be an object");
      return out;
    }
    copy_if_set(in, "healthmonitor_id", out, "id");
    for (const char* key : {"name", "type", "delay", "timeout", "max_retries", "max_retries_down",
                            "admin_state_up"}) {
      copy_if_set(in, key, out);
    }
    std::string type = value_or<std::string>(in, "type", "");
    if (type == "HTTP" || type == "HTTPS") {
      for (const char* key : {"http_method", "url_path", "expected_codes", "http_version", "domain_name"}) {
        copy_if_set(in, key, out);
      }
    }
    return out;
  }

  const json& tree_;
  std::vector<CompileError> errors_;
};

}  // namespace

CompileResult compile_tree(const json& tree) { return Compiler(tree).run(); }

}  // namespace pharos::octavia
