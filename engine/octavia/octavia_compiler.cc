#include "engine/octavia/octavia_compiler.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

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
    // Engine-wide limits are not Octavia objects; whoever builds the tree (the controller, from
    // its options) may set them.
    for (const char* key : {"http", "http2", "tls"}) copy_if_set(tree_, key, config);
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
      // same names, so they are reported against the tree, with the certificate fields under the
      // names the user set (default_tls_container_ref...).
      auto loaded = config::load_config(config);
      for (auto& error : loaded.errors) invalid(tree_path(error.path), error.message);
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
  // json::empty() is false for every string; "" is empty here.
  static bool is_empty(const json& v) {
    if (v.is_string()) return v.get_ref<const std::string&>().empty();
    return v.is_null() || ((v.is_array() || v.is_object()) && v.empty());
  }
  // Octavia fields Pharos does not implement: refused when set to anything but "off".
  void refuse_if_set(const json& object, const std::string& path, const char* key, const std::string& what) {
    if (!is_set(object, key)) return;
    const json& v = object[key];
    bool empty = is_empty(v);
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
        if (is_known_header(name)) {
          headers[name] = value;
        } else {
          unsupported(path + "/insert_headers/" + name,
                      "insert_headers " + name + " is not supported by the pharos provider yet");
        }
      }
      if (!headers.empty()) out["insert_headers"] = headers;
    }
    copy_if_set(in, "default_pool_id", out);
    if (is_set(in, "l7policies")) l7policies(in["l7policies"], path + "/l7policies", out);
    if (protocol == "TERMINATED_HTTPS") {
      listener_tls(in, path, out);
    } else {
      // Octavia refuses certificates on other listeners before any provider sees them; the
      // version, cipher and ALPN defaults it may still fill in mean nothing there.
      for (const char* key : {"default_tls_container_data", "sni_container_data",
                              "client_ca_tls_container_data", "client_crl_container_data"}) {
        if (is_set(in, key) && !is_empty(in[key])) {
          invalid(path + "/" + ref_name(key), std::string(ref_name(key)) +
                                                  " applies only to TERMINATED_HTTPS listeners");
        }
      }
    }
    return out;
  }

  // Octavia's L7 policies, in the tree's order (the driver keeps them sorted and numbered as
  // Octavia does), so that the loader's /l7policies/N paths are the tree's.
  void l7policies(const json& in, const std::string& path, json& listener_out) {
    if (!in.is_array()) {
      invalid(path, "l7policies must be a list of L7 policies");
      return;
    }
    if (in.empty()) return;
    json out = json::array();
    for (size_t i = 0; i < in.size(); ++i) out.push_back(l7policy(in[i], path + "/" + std::to_string(i)));
    listener_out["l7policies"] = std::move(out);
  }

  // Only the target of the policy's action is passed on: Octavia clears the others when the
  // action changes, and a stale one it still sends means nothing to that action. A missing
  // target is the loader's to report.
  json l7policy(const json& in, const std::string& path) {
    json out = json::object();
    if (!in.is_object()) {
      invalid(path, "an L7 policy must be an object");
      return out;
    }
    copy_if_set(in, "l7policy_id", out, "id");
    copy_if_set(in, "name", out);
    copy_if_set(in, "action", out);
    copy_if_set(in, "position", out);
    copy_if_set(in, "admin_state_up", out);
    const std::string action = value_or<std::string>(in, "action", "");
    if (action == "REDIRECT_TO_POOL") {
      copy_if_set(in, "redirect_pool_id", out);
    } else if (action == "REDIRECT_TO_URL" || action == "REDIRECT_PREFIX") {
      copy_if_set(in, action == "REDIRECT_TO_URL" ? "redirect_url" : "redirect_prefix", out);
      copy_if_set(in, "redirect_http_code", out);
    }
    json rules = json::array();
    if (is_set(in, "rules")) {
      if (!in["rules"].is_array()) {
        invalid(path + "/rules", "rules must be a list of L7 rules");
      } else {
        for (size_t i = 0; i < in["rules"].size(); ++i) {
          rules.push_back(l7rule(in["rules"][i], path + "/rules/" + std::to_string(i)));
        }
      }
    }
    out["rules"] = std::move(rules);
    return out;
  }

  // Octavia accepts (and ignores) a key on rules that compare no named field; only HEADER,
  // COOKIE and SSL_DN_FIELD rules take one.
  json l7rule(const json& in, const std::string& path) {
    json out = json::object();
    if (!in.is_object()) {
      invalid(path, "an L7 rule must be an object");
      return out;
    }
    copy_if_set(in, "l7rule_id", out, "id");
    for (const char* key : {"type", "compare_type", "value", "invert", "admin_state_up"}) {
      copy_if_set(in, key, out);
    }
    const std::string type = value_or<std::string>(in, "type", "");
    if (type == "HEADER" || type == "COOKIE" || type == "SSL_DN_FIELD") copy_if_set(in, "key", out);
    return out;
  }

  // Octavia's SUPPORTED_HTTP_HEADERS and SUPPORTED_SSL_HEADERS; the engine's loader decides which
  // listeners take which.
  static bool is_known_header(const std::string& name) {
    static const char* const kHeaders[] = {
        "X-Forwarded-For",     "X-Forwarded-Port",      "X-Forwarded-Proto",
        "X-SSL-Client-Verify", "X-SSL-Client-Has-Cert", "X-SSL-Client-DN",
        "X-SSL-Client-CN",     "X-SSL-Issuer",          "X-SSL-Client-SHA1",
        "X-SSL-Client-Not-Before", "X-SSL-Client-Not-After"};
    for (const char* h : kHeaders) {
      if (name == h) return true;
    }
    return false;
  }

  // The request field a user sets for each *_data field Octavia fills from the certificate
  // manager; errors name it, since that is what the user can change.
  static const char* ref_name(std::string_view data_key) {
    static const std::pair<const char*, const char*> kRefs[] = {
        {"default_tls_container_data", "default_tls_container_ref"},
        {"sni_container_data", "sni_container_refs"},
        {"client_ca_tls_container_data", "client_ca_tls_container_ref"},
        {"client_crl_container_data", "client_crl_container_ref"},
        {"tls_container_data", "tls_container_ref"},
        {"ca_tls_container_data", "ca_tls_container_ref"},
        {"crl_container_data", "crl_container_ref"},
    };
    for (const auto& [data, ref] : kRefs) {
      if (data_key == data) return ref;
    }
    return "?";
  }

  // TERMINATED_HTTPS: Octavia's certificate data and TLS options, under the engine's names.
  void listener_tls(const json& in, const std::string& path, json& out) {
    json sni = json::array();
    if (is_set(in, "sni_container_data")) {
      const json& list = in["sni_container_data"];
      if (!list.is_array()) {
        invalid(path + "/sni_container_refs", "sni_container_data must be a list of certificates");
      } else {
        for (size_t i = 0; i < list.size(); ++i) {
          sni.push_back(container(list[i], path + "/sni_container_refs/" + std::to_string(i)));
        }
      }
    }
    if (is_set(in, "default_tls_container_data") && !is_empty(in["default_tls_container_data"])) {
      out["default_tls_container"] =
          container(in["default_tls_container_data"], path + "/default_tls_container_ref");
    } else if (!sni.empty()) {
      // Octavia allows SNI certificates alone; like its HAProxy driver, the first one is also
      // served to clients that send no matching name.
      out["default_tls_container"] = sni[0];
      default_from_sni_.insert(path);
    } else {
      invalid(path + "/default_tls_container_ref",
              "TERMINATED_HTTPS listeners need a certificate (default_tls_container_ref or "
              "sni_container_refs), and Octavia passed none");
    }
    if (!sni.empty()) out["sni_containers"] = sni;
    copy_tls_options(in, out);
    std::string auth = value_or<std::string>(in, "client_authentication", "NONE");
    if (auth != "NONE") out["client_authentication"] = auth;
    pem(in, path, "client_ca_tls_container_data", "client_ca_tls_container", out);
    pem(in, path, "client_crl_container_data", "client_crl_container", out);
    // Newer Octavia (2023.2+) has HSTS on TERMINATED_HTTPS listeners.
    copy_if_set(in, "hsts_max_age", out);
    for (const char* key : {"hsts_include_subdomains", "hsts_preload"}) {
      if (value_or(in, key, false)) out[key] = true;
    }
  }

  // tls_versions, tls_ciphers and alpn_protocols: the same names on both sides; empty means the
  // engine's default.
  static void copy_tls_options(const json& in, json& out) {
    for (const char* key : {"tls_versions", "tls_ciphers", "alpn_protocols"}) {
      if (is_set(in, key) && !is_empty(in[key])) out[key] = in[key];
    }
  }

  // PEM text Octavia read from the certificate manager (a CA bundle, a CRL).
  void pem(const json& in, const std::string& path, const char* data_key, const char* as, json& out) {
    if (!is_set(in, data_key) || is_empty(in[data_key])) return;
    if (!in[data_key].is_string()) {
      invalid(path + "/" + ref_name(data_key), std::string(data_key) + " must be PEM text");
      return;
    }
    out[as] = in[data_key];
  }

  // Octavia's TLSContainer (certificate, private_key, intermediates, primary_cn, passphrase, id)
  // as the engine's tls_container. Octavia decrypts a key whose passphrase the certificate
  // manager holds, so a key still encrypted here is one the engine could never use.
  json container(const json& in, const std::string& path) {
    json out = json::object();
    if (!in.is_object()) {
      invalid(path, "the certificate container must be an object");
      return out;
    }
    copy_if_set(in, "id", out);
    for (const char* key : {"certificate", "private_key"}) {
      if (!is_set(in, key) || !in[key].is_string() || is_empty(in[key])) {
        invalid(path, std::string("the certificate container has no ") +
                          (std::string(key) == "certificate" ? "certificate" : "private key"));
        continue;
      }
      out[key] = pem_line_ended(in[key].get<std::string>());
    }
    if (out.contains("private_key")) {
      const std::string& key = out["private_key"].get_ref<const std::string&>();
      if (key.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
          key.find("Proc-Type: 4,ENCRYPTED") != std::string::npos) {
        unsupported(path, "the private key is encrypted with a passphrase; store it unencrypted, "
                          "or with its passphrase in the certificate container so that Octavia "
                          "decrypts it");
      }
    }
    if (is_set(in, "intermediates")) {
      if (!in["intermediates"].is_array()) {
        invalid(path, "the certificate container's intermediates must be a list of PEM certificates");
        return out;
      }
      json intermediates = json::array();
      for (const auto& block : in["intermediates"]) {
        if (!is_empty(block)) {
          intermediates.push_back(block.is_string() ? json(pem_line_ended(block.get<std::string>())) : block);
        }
      }
      if (!intermediates.empty()) out["intermediates"] = intermediates;
    }
    return out;
  }

  // Octavia strips the last newline of each intermediate it splits out of a bundle; PEM text
  // that ends in one can be concatenated into a bundle as it is.
  static std::string pem_line_ended(std::string pem) {
    if (!pem.empty() && pem.back() != '\n') pem += '\n';
    return pem;
  }

  // An engine-config path reported by the loader, as a path into the tree.
  std::string tree_path(const std::string& path) const {
    // /listeners/N/<field>[/...] and /pools/N/<field>[/...]
    using Renames = std::vector<std::pair<std::string_view, std::string_view>>;
    static const Renames kListener = {
        {"default_tls_container", "default_tls_container_ref"},
        {"sni_containers", "sni_container_refs"},
        {"client_ca_tls_container", "client_ca_tls_container_ref"},
        {"client_crl_container", "client_crl_container_ref"},
    };
    static const Renames kPool = {
        {"tls_container", "tls_container_ref"},
        {"ca_tls_container", "ca_tls_container_ref"},
        {"crl_container", "crl_container_ref"},
    };
    const bool listener = path.rfind("/listeners/", 0) == 0;
    if (!listener && path.rfind("/pools/", 0) != 0) return path;
    const size_t index_start = path.find('/', 1) + 1;
    const size_t field_start = path.find('/', index_start);
    if (field_start == std::string::npos) return path;
    const size_t field_end = std::min(path.find('/', field_start + 1), path.size());
    const std::string object = path.substr(0, field_start);
    const std::string field = path.substr(field_start + 1, field_end - field_start - 1);
    const std::string rest = path.substr(field_end);
    if (listener && field == "default_tls_container" && default_from_sni_.count(object)) {
      return object + "/sni_container_refs/0" + rest;
    }
    if (listener && field == "l7policies") return l7_tree_path(path);
    for (const auto& [from, to] : listener ? kListener : kPool) {
      if (field == from) return object + "/" + std::string(to) + rest;
    }
    return path;
  }

  // .../l7policies/N/id and .../rules/M/id are l7policy_id and l7rule_id in the tree.
  static std::string l7_tree_path(const std::string& path) {
    static const std::string kId = "/id";
    if (path.size() < kId.size() || path.compare(path.size() - kId.size(), kId.size(), kId) != 0) {
      return path;
    }
    const std::string object = path.substr(0, path.size() - kId.size());  // .../<collection>/<index>
    const size_t index_slash = object.rfind('/');
    const size_t collection_slash = object.rfind('/', index_slash - 1);
    const std::string collection = object.substr(collection_slash + 1, index_slash - collection_slash - 1);
    return object + (collection == "rules" ? "/l7rule_id" : "/l7policy_id");
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
    if (is_set(in, "session_persistence") && !is_empty(in["session_persistence"])) {
      out["session_persistence"] = session_persistence(in["session_persistence"]);
    }
    // Octavia keeps a pool's certificates while tls_enabled is off; only a re-encrypting pool
    // hands them to the engine.
    if (value_or(in, "tls_enabled", false)) {
      out["tls_enabled"] = true;
      if (is_set(in, "tls_container_data") && !is_empty(in["tls_container_data"])) {
        out["tls_container"] = container(in["tls_container_data"], path + "/tls_container_ref");
      }
      pem(in, path, "ca_tls_container_data", "ca_tls_container", out);
      pem(in, path, "crl_container_data", "crl_container", out);
      copy_tls_options(in, out);
    }
    out["members"] = json::array();
    const json members = in.value("members", json::array());
    for (size_t i = 0; i < members.size(); ++i) {
      out["members"].push_back(member(members[i], path + "/members/" + std::to_string(i)));
    }
    if (is_set(in, "healthmonitor")) out["healthmonitor"] = healthmonitor(in["healthmonitor"], path + "/healthmonitor");
    return out;
  }

  // persistence_granularity is left out: Octavia takes it only on UDP pools, which this
  // provider does not offer.
  static json session_persistence(const json& in) {
    json out = json::object();
    copy_if_set(in, "type", out);
    copy_if_set(in, "cookie_name", out);
    copy_if_set(in, "persistence_timeout", out);
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
  std::set<std::string> default_from_sni_;  // listener paths whose default is sni_containers[0]
};

}  // namespace

CompileResult compile_tree(const json& tree) { return Compiler(tree).run(); }

}  // namespace pharos::octavia
