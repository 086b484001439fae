#include "engine/config/config_loader.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include "engine/config/engine_config_schema.h"
#include "engine/config/json_schema.h"

namespace pharos::config {

namespace {

using nlohmann::json;

const std::pair<const char*, ListenerProtocol> kListenerProtocols[] = {
    {"TCP", ListenerProtocol::kTcp},
    {"HTTP", ListenerProtocol::kHttp},
    {"HTTPS", ListenerProtocol::kHttps},
    {"TERMINATED_HTTPS", ListenerProtocol::kTerminatedHttps},
};
const std::pair<const char*, PoolProtocol> kPoolProtocols[] = {
    {"TCP", PoolProtocol::kTcp},
    {"HTTP", PoolProtocol::kHttp},
    {"HTTPS", PoolProtocol::kHttps},
    {"PROXY", PoolProtocol::kProxy},
};
const std::pair<const char*, SessionPersistence::Type> kPersistenceTypes[] = {
    {"SOURCE_IP", SessionPersistence::Type::kSourceIp},
    {"HTTP_COOKIE", SessionPersistence::Type::kHttpCookie},
    {"APP_COOKIE", SessionPersistence::Type::kAppCookie},
};
const std::pair<const char*, L7Action> kL7Actions[] = {
    {"REJECT", L7Action::kReject},
    {"REDIRECT_TO_URL", L7Action::kRedirectToUrl},
    {"REDIRECT_PREFIX", L7Action::kRedirectPrefix},
    {"REDIRECT_TO_POOL", L7Action::kRedirectToPool},
};
const std::pair<const char*, L7RuleType> kL7RuleTypes[] = {
    {"HOST_NAME", L7RuleType::kHostName},
    {"PATH", L7RuleType::kPath},
    {"FILE_TYPE", L7RuleType::kFileType},
    {"HEADER", L7RuleType::kHeader},
    {"COOKIE", L7RuleType::kCookie},
    {"SSL_CONN_HAS_CERT", L7RuleType::kSslConnHasCert},
    {"SSL_VERIFY_RESULT", L7RuleType::kSslVerifyResult},
    {"SSL_DN_FIELD", L7RuleType::kSslDnField},
};
const std::pair<const char*, L7CompareType> kL7CompareTypes[] = {
    {"REGEX", L7CompareType::kRegex},
    {"STARTS_WITH", L7CompareType::kStartsWith},
    {"ENDS_WITH", L7CompareType::kEndsWith},
    {"CONTAINS", L7CompareType::kContains},
    {"EQUAL_TO", L7CompareType::kEqualTo},
};
const std::pair<const char*, LbAlgorithm> kLbAlgorithms[] = {
    {"ROUND_ROBIN", LbAlgorithm::kRoundRobin},
    {"LEAST_CONNECTIONS", LbAlgorithm::kLeastConnections},
    {"SOURCE_IP", LbAlgorithm::kSourceIp},
    {"SOURCE_IP_PORT", LbAlgorithm::kSourceIpPort},
};

template <class Enum, size_t N>
std::optional<Enum> enum_from(const std::pair<const char*, Enum> (&table)[N],
                              const std::string& name) {
  for (const auto& [text, value] : table) {
    if (name == text) return value;
  }
  return std::nullopt;
}

template <class Enum, size_t N>
const char* enum_name(const std::pair<const char*, Enum> (&table)[N], Enum value) {
  for (const auto& [text, v] : table) {
    if (v == value) return text;
  }
  return "?";
}

// Octavia's VALID_LISTENER_POOL_PROTOCOL_MAP, without the protocols the engine does not offer.
std::vector<PoolProtocol> pool_protocols_for(ListenerProtocol listener) {
  switch (listener) {
    case ListenerProtocol::kHttp:
    case ListenerProtocol::kTerminatedHttps:
      return {PoolProtocol::kHttp, PoolProtocol::kProxy};
    case ListenerProtocol::kTcp:
      return {PoolProtocol::kTcp, PoolProtocol::kHttp, PoolProtocol::kHttps, PoolProtocol::kProxy};
    case ListenerProtocol::kHttps:
      return {PoolProtocol::kHttps, PoolProtocol::kTcp, PoolProtocol::kProxy};
  }
  return {};
}

// Cidr::contains() compares IPv4-mapped peers as IPv4, so a block written as ::ffff:a.b.c.d/n
// (n >= 96) must become a.b.c.d/(n-96) to ever match.
Cidr unmap_v4(Cidr cidr) {
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (cidr.network.family != AF_INET6 || cidr.prefix_len < 96 ||
      std::memcmp(cidr.network.bytes.data(), kMappedPrefix, sizeof(kMappedPrefix)) != 0) {
    return cidr;
  }
  cidr.network.family = AF_INET;
  std::memmove(cidr.network.bytes.data(), cidr.network.bytes.data() + 12, 4);
  std::memset(cidr.network.bytes.data() + 4, 0, 12);
  cidr.prefix_len = static_cast<uint8_t>(cidr.prefix_len - 96);
  return cidr;
}

bool is_http_monitor(const std::string& type) { return type == "HTTP" || type == "HTTPS"; }

std::string json_string(const std::string& s) { return json(s).dump(); }

// Which paths the schema found fault with. Conversion and the semantic checks read a field only
// when nothing at or below it failed the schema, so they never report a second, derived error
// for a problem already listed, and still check everything the schema approved.
class SchemaVerdict {
 public:
  explicit SchemaVerdict(const std::vector<SchemaError>& errors) {
    for (const auto& e : errors) paths_.insert(e.path);
  }

  bool clean(const std::string& path) const {
    if (paths_.count(path)) return false;
    const std::string below = path + "/";
    auto it = paths_.lower_bound(below);
    return it == paths_.end() || it->compare(0, below.size(), below) != 0;
  }

 private:
  std::set<std::string> paths_;
};

using BindKey = std::tuple<int, std::array<uint8_t, 16>, uint16_t>;

class Converter {
 public:
  Converter(const json& document, const SchemaVerdict& verdict, std::string base_directory,
            std::vector<ConfigError>& errors)
      : doc_(document), verdict_(verdict), base_directory_(std::move(base_directory)), errors_(errors) {}

  std::shared_ptr<Config> run() {
    auto config = std::make_shared<Config>();
    if (!doc_.is_object()) return config;
    if (auto v = field(doc_, "", "version")) config->version = v->get<uint64_t>();
    if (auto v = field(doc_, "", "amphora_id")) config->amphora_id = v->get<std::string>();
    if (auto v = field(doc_, "", "workers")) config->workers = v->get<uint32_t>();
    if (auto v = field(doc_, "", "records_socket")) config->records_socket = v->get<std::string>();
    if (const json* http = nested_object(doc_, "http")) {
      if (auto v = field(*http, "/http", "max_header_bytes")) {
        config->http.max_header_bytes = v->get<uint32_t>();
      }
      if (auto v = field(*http, "/http", "max_headers")) {
        config->http.max_headers = v->get<uint32_t>();
      }
    }
    if (const json* h2 = nested_object(doc_, "http2")) convert_http2_limits(*h2, config->http2);
    if (const json* tls = nested_object(doc_, "tls")) convert_tls_sessions(*tls, config->tls);
    // Pools first: listeners are checked against the pools they name.
    for_each_object("/pools", [&](const json& pool, const std::string& path) {
      config->pools.push_back(convert_pool(pool, path));
    });
    for_each_object("/listeners", [&](const json& listener, const std::string& path) {
      config->listeners.push_back(convert_listener(listener, path));
    });
    return config;
  }

 private:
  // The field's value when it is present and the schema approved it; nullptr otherwise.
  const json* field(const json& object, const std::string& object_path, const char* key) const {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    if (it == object.end()) return nullptr;
    if (!verdict_.clean(json_pointer_append(object_path, key))) return nullptr;
    return &*it;
  }

  // A nested object to convert, even when something inside it failed the schema: its fields
  // are then read one by one through field().
  const json* nested_object(const json& object, const char* key) const {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it != object.end() && it->is_object() ? &*it : nullptr;
  }

  template <class Fn>
  void for_each_object(const std::string& array_path, Fn&& fn) {
    const json::json_pointer pointer(array_path);
    if (!doc_.contains(pointer)) return;
    const json& array = doc_.at(pointer);
    if (!array.is_array()) return;
    for (size_t i = 0; i < array.size(); ++i) {
      if (array[i].is_object()) fn(array[i], json_pointer_append(array_path, i));
    }
  }

  // True when every pool's id could be read, so a reference to a missing id is a real error
  // and not the echo of a pool the schema already rejected.
  bool all_pool_ids_readable() const {
    auto pools = doc_.find("pools");
    if (pools == doc_.end()) return true;
    if (!pools->is_array()) return false;
    for (size_t i = 0; i < pools->size(); ++i) {
      if (!field((*pools)[i], json_pointer_append("/pools", i), "id")) return false;
    }
    return true;
  }

  void error(std::string path, std::string message) {
    errors_.push_back(ConfigError{std::move(path), std::move(message)});
  }

  // Records an id and reports it when the same kind of object already used it.
  void check_unique_id(std::map<std::string, std::string>& seen, const char* kind,
                       const std::string& id, const std::string& path) {
    auto [it, inserted] = seen.emplace(id, path);
    if (!inserted) {
      error(path, std::string("duplicate ") + kind + " id " + json_string(id) + " (first used at " +
                      it->second + ")");
    }
  }

  std::optional<IpAddress> ip_literal(const json& object, const std::string& object_path,
                                      const char* key) {
    const json* v = field(object, object_path, key);
    if (!v) return std::nullopt;
    auto address = IpAddress::parse(v->get<std::string>());
    if (!address) {
      error(json_pointer_append(object_path, key),
            json_string(v->get<std::string>()) + " is not an IPv4 or IPv6 address");
    }
    return address;
  }

  Pool convert_pool(const json& in, const std::string& path) {
    Pool pool;
    if (auto v = field(in, path, "id")) {
      pool.id = v->get<std::string>();
      check_unique_id(pool_ids_, "pool", pool.id, path + "/id");
    }
    if (auto v = field(in, path, "name")) pool.name = v->get<std::string>();
    if (auto v = field(in, path, "protocol")) {
      pool.protocol = *enum_from(kPoolProtocols, v->get<std::string>());
      if (!pool.id.empty()) pool_protocols_.emplace(pool.id, pool.protocol);
      if (pool.protocol == PoolProtocol::kProxy) {
        error(path + "/protocol",
              "PROXY pools (the PROXY protocol towards members) are not supported by this engine yet");
      }
    }
    if (auto v = field(in, path, "lb_algorithm")) {
      pool.lb_algorithm = *enum_from(kLbAlgorithms, v->get<std::string>());
    }
    if (auto v = field(in, path, "admin_state_up")) pool.admin_state_up = v->get<bool>();
    if (auto v = field(in, path, "connect_retries")) pool.connect_retries = v->get<uint32_t>();
    if (auto members = in.find("members"); members != in.end() && members->is_array()) {
      std::map<BindKey, std::string> endpoints;  // Octavia: one member per address and port
      for (size_t i = 0; i < members->size(); ++i) {
        if (!(*members)[i].is_object()) continue;
        const std::string member_path = json_pointer_append(path + "/members", i);
        pool.members.push_back(convert_member((*members)[i], member_path, endpoints));
      }
    }
    if (const json* monitor = nested_object(in, "healthmonitor")) {
      pool.healthmonitor = convert_healthmonitor(*monitor, path + "/healthmonitor");
    }
    convert_pool_tls(in, path, pool);
    if (const json* persistence = nested_object(in, "session_persistence")) {
      pool.session_persistence =
          convert_session_persistence(*persistence, path + "/session_persistence", pool,
                                      field(in, path, "protocol") != nullptr);
    }
    return pool;
  }

  // Cookies need HTTP; SOURCE_IP works on any pool. Octavia names the cookie only for APP_COOKIE
  // (HTTP_COOKIE's is SRV, as in Octavia's HAProxy template).
  SessionPersistence convert_session_persistence(const json& in, const std::string& path,
                                                 const Pool& pool, bool protocol_known) {
    SessionPersistence persistence;
    const json* type = field(in, path, "type");
    if (type) persistence.type = *enum_from(kPersistenceTypes, type->get<std::string>());
    if (auto v = field(in, path, "cookie_name")) persistence.cookie_name = v->get<std::string>();
    if (auto v = field(in, path, "persistence_timeout")) persistence.timeout_s = v->get<uint32_t>();
    if (!type) return persistence;
    const std::string type_name = enum_name(kPersistenceTypes, persistence.type);
    const bool app_cookie = persistence.type == SessionPersistence::Type::kAppCookie;
    if (app_cookie && !in.contains("cookie_name")) {
      error(path + "/cookie_name", "APP_COOKIE session persistence needs cookie_name");
    } else if (!app_cookie && in.contains("cookie_name")) {
      error(path + "/cookie_name",
            "cookie_name applies only to APP_COOKIE session persistence, not " + type_name);
    }
    if (persistence.type != SessionPersistence::Type::kSourceIp && protocol_known &&
        pool.protocol != PoolProtocol::kHttp) {
      error(path + "/type", type_name + " session persistence needs an HTTP pool (it reads cookies), not " +
                                enum_name(kPoolProtocols, pool.protocol));
    }
    return persistence;
  }

  Member convert_member(const json& in, const std::string& path,
                        std::map<BindKey, std::string>& endpoints) {
    Member member;
    if (auto v = field(in, path, "id")) {
      member.id = v->get<std::string>();
      check_unique_id(member_ids_, "member", member.id, path + "/id");
    }
    if (auto v = field(in, path, "name")) member.name = v->get<std::string>();
    auto address = ip_literal(in, path, "address");
    if (address) member.address = *address;
    auto port = field(in, path, "protocol_port");
    if (port) member.protocol_port = port->get<uint16_t>();
    if (address && port) {
      auto [it, inserted] =
          endpoints.emplace(BindKey{address->family, address->bytes, member.protocol_port}, path);
      if (!inserted) {
        error(path + "/address", "another member of this pool (" + it->second + ") already uses " +
                                     address->text + " port " +
                                     std::to_string(member.protocol_port));
      }
    }
    if (auto v = field(in, path, "weight")) member.weight = v->get<uint32_t>();
    if (auto v = field(in, path, "backup")) member.backup = v->get<bool>();
    if (auto v = field(in, path, "admin_state_up")) member.admin_state_up = v->get<bool>();
    member.monitor_address = ip_literal(in, path, "monitor_address");
    if (auto v = field(in, path, "monitor_port")) member.monitor_port = v->get<uint16_t>();
    return member;
  }

  HealthMonitor convert_healthmonitor(const json& in, const std::string& path) {
    HealthMonitor hm;
    if (auto v = field(in, path, "id")) {
      hm.id = v->get<std::string>();
      check_unique_id(monitor_ids_, "health monitor", hm.id, path + "/id");
    }
    if (auto v = field(in, path, "name")) hm.name = v->get<std::string>();
    const json* type = field(in, path, "type");
    if (type) {
      hm.type = type->get<std::string>();
      // Octavia allows these only on UDP and SCTP pools, which the engine does not offer.
      if (hm.type == "UDP-CONNECT" || hm.type == "SCTP") {
        error(path + "/type", hm.type + " health monitors need a " +
                                  (hm.type == "SCTP" ? "SCTP" : "UDP") +
                                  " pool, which this engine does not offer");
      }
    }
    const json* delay = field(in, path, "delay");
    const json* timeout = field(in, path, "timeout");
    if (delay) hm.delay_s = delay->get<uint32_t>();
    if (timeout) hm.timeout_s = timeout->get<uint32_t>();
    if (delay && timeout && hm.timeout_s > hm.delay_s) {
      error(path + "/timeout", "timeout (" + std::to_string(hm.timeout_s) +
                                   " s) must not exceed delay (" + std::to_string(hm.delay_s) +
                                   " s)");
    }
    if (auto v = field(in, path, "max_retries")) hm.max_retries = v->get<uint32_t>();
    if (auto v = field(in, path, "max_retries_down")) hm.max_retries_down = v->get<uint32_t>();
    if (auto v = field(in, path, "admin_state_up")) hm.admin_state_up = v->get<bool>();

    // Octavia rejects HTTP probe settings on monitors that do not speak HTTP.
    for (const char* key :
         {"http_method", "url_path", "expected_codes", "http_version", "domain_name"}) {
      if (type && !is_http_monitor(hm.type) && field(in, path, key)) {
        error(json_pointer_append(path, key), std::string(key) +
                                                  " applies only to HTTP and HTTPS health "
                                                  "monitors, not " +
                                                  hm.type);
      }
    }
    if (auto v = field(in, path, "http_method")) hm.http_method = v->get<std::string>();
    if (auto v = field(in, path, "url_path")) hm.url_path = v->get<std::string>();
    if (auto v = field(in, path, "expected_codes")) {
      hm.expected_codes = v->get<std::string>();
      auto dash = hm.expected_codes.find('-');
      if (dash != std::string::npos && std::stoi(hm.expected_codes.substr(0, dash)) >
                                           std::stoi(hm.expected_codes.substr(dash + 1))) {
        error(path + "/expected_codes",
              "range " + json_string(hm.expected_codes) + " runs backwards");
      }
    }
    const json* version = field(in, path, "http_version");
    if (version) {
      hm.http_version = version->is_string()            ? version->get<std::string>()
                        : version->get<double>() == 1.0 ? "1.0"
                                                        : "1.1";
    }
    if (auto v = field(in, path, "domain_name")) {
      hm.domain_name = v->get<std::string>();
      // The Host header the domain name goes into is an HTTP/1.1 feature.
      if (version && hm.http_version != "1.1") {
        error(path + "/domain_name", "domain_name requires http_version 1.1");
      }
    }
    return hm;
  }

  Listener convert_listener(const json& in, const std::string& path) {
    Listener listener;
    if (auto v = field(in, path, "id")) {
      listener.id = v->get<std::string>();
      check_unique_id(listener_ids_, "listener", listener.id, path + "/id");
    }
    if (auto v = field(in, path, "name")) listener.name = v->get<std::string>();
    const json* protocol = field(in, path, "protocol");
    if (protocol) listener.protocol = *enum_from(kListenerProtocols, protocol->get<std::string>());
    auto address = ip_literal(in, path, "bind_address");
    if (address) listener.bind_address = *address;
    const json* port = field(in, path, "protocol_port");
    if (port) listener.protocol_port = port->get<uint16_t>();
    if (address && port) {
      auto [it, inserted] =
          binds_.emplace(BindKey{address->family, address->bytes, listener.protocol_port}, path);
      if (!inserted) {
        error(path + "/protocol_port", "listener at " + it->second + " already binds " +
                                           address->text + " port " +
                                           std::to_string(listener.protocol_port));
      }
    }
    if (auto v = field(in, path, "admin_state_up")) listener.admin_state_up = v->get<bool>();
    if (auto v = field(in, path, "connection_limit")) {
      listener.connection_limit = v->get<int64_t>();
    }
    if (auto v = field(in, path, "timeout_client_data")) {
      listener.timeout_client_data_ms = v->get<uint32_t>();
    }
    if (auto v = field(in, path, "timeout_member_connect")) {
      listener.timeout_member_connect_ms = v->get<uint32_t>();
    }
    if (auto v = field(in, path, "timeout_member_data")) {
      listener.timeout_member_data_ms = v->get<uint32_t>();
    }
    if (auto v = field(in, path, "timeout_tcp_inspect")) {
      listener.timeout_tcp_inspect_ms = v->get<uint32_t>();
    }
    if (auto cidrs = in.find("allowed_cidrs"); cidrs != in.end() && cidrs->is_array()) {
      for (size_t i = 0; i < cidrs->size(); ++i) {
        const std::string item_path = json_pointer_append(path + "/allowed_cidrs", i);
        if (!verdict_.clean(item_path)) continue;
        const auto& text = (*cidrs)[i].get_ref<const std::string&>();
        if (auto cidr = Cidr::parse(text)) {
          listener.allowed_cidrs.push_back(unmap_v4(*cidr));
        } else {
          error(item_path, json_string(text) + " is not an IPv4 or IPv6 CIDR block");
        }
      }
    }
    if (const json* headers = nested_object(in, "insert_headers")) {
      convert_insert_headers(*headers, path + "/insert_headers", listener, protocol != nullptr);
      if (protocol && !headers->empty() && listener.protocol != ListenerProtocol::kHttp &&
          listener.protocol != ListenerProtocol::kTerminatedHttps) {
        error(path + "/insert_headers",
              std::string("insert_headers apply only to HTTP and TERMINATED_HTTPS listeners, "
                          "not ") +
                  enum_name(kListenerProtocols, listener.protocol));
      }
    }
    if (auto v = field(in, path, "default_pool_id")) {
      listener.default_pool_id = v->get<std::string>();
      check_pool_reference(listener.default_pool_id, listener.protocol, protocol != nullptr,
                           path + "/default_pool_id");
    }
    if (protocol) convert_listener_tls(in, path, listener);
    if (auto v = field(in, path, "h2c")) {
      listener.h2c = v->get<bool>();
      if (protocol && listener.protocol != ListenerProtocol::kHttp) {
        error(path + "/h2c", std::string("h2c applies only to HTTP listeners, not ") +
                                 enum_name(kListenerProtocols, listener.protocol) +
                                 (listener.protocol == ListenerProtocol::kTerminatedHttps
                                      ? " (offer h2 there with alpn_protocols)"
                                      : ""));
      }
    }
    if (auto policies = in.find("l7policies"); policies != in.end() && policies->is_array()) {
      if (protocol && !policies->empty() && !speaks_http(listener.protocol)) {
        error(path + "/l7policies",
              std::string("L7 policies apply only to HTTP and TERMINATED_HTTPS listeners, not ") +
                  enum_name(kListenerProtocols, listener.protocol));
      }
      for (size_t i = 0; i < policies->size(); ++i) {
        if (!(*policies)[i].is_object()) continue;
        listener.l7policies.push_back(convert_l7policy(
            (*policies)[i], json_pointer_append(path + "/l7policies", i), listener, protocol != nullptr));
      }
    }
    return listener;
  }

  // ---- L7 ----

  L7Policy convert_l7policy(const json& in, const std::string& path, const Listener& listener,
                            bool protocol_known) {
    L7Policy policy;
    if (auto v = field(in, path, "id")) {
      policy.id = v->get<std::string>();
      check_unique_id(l7policy_ids_, "L7 policy", policy.id, path + "/id");
    }
    if (auto v = field(in, path, "name")) policy.name = v->get<std::string>();
    const json* action = field(in, path, "action");
    if (action) policy.action = *enum_from(kL7Actions, action->get<std::string>());
    if (auto v = field(in, path, "position")) policy.position = v->get<uint32_t>();
    if (auto v = field(in, path, "admin_state_up")) policy.admin_state_up = v->get<bool>();
    if (auto v = field(in, path, "redirect_pool_id")) policy.redirect_pool_id = v->get<std::string>();
    if (auto v = field(in, path, "redirect_url")) policy.redirect_url = v->get<std::string>();
    if (auto v = field(in, path, "redirect_prefix")) policy.redirect_prefix = v->get<std::string>();
    if (auto v = field(in, path, "redirect_http_code")) {
      policy.redirect_http_code = v->get<uint16_t>();
    }
    if (action) check_l7policy_action(in, path, policy, listener, protocol_known);
    if (auto rules = in.find("rules"); rules != in.end() && rules->is_array()) {
      for (size_t i = 0; i < rules->size(); ++i) {
        if (!(*rules)[i].is_object()) continue;
        policy.rules.push_back(convert_l7rule((*rules)[i], json_pointer_append(path + "/rules", i),
                                              listener, protocol_known));
      }
    }
    return policy;
  }

  // Each action takes its own target and refuses the others' (Octavia does the same).
  void check_l7policy_action(const json& in, const std::string& path, const L7Policy& policy,
                             const Listener& listener, bool protocol_known) {
    const char* needed = policy.action == L7Action::kRedirectToPool  ? "redirect_pool_id"
                         : policy.action == L7Action::kRedirectToUrl ? "redirect_url"
                         : policy.action == L7Action::kRedirectPrefix ? "redirect_prefix"
                                                                      : nullptr;
    const std::string action_name = enum_name(kL7Actions, policy.action);
    for (const char* key : {"redirect_pool_id", "redirect_url", "redirect_prefix"}) {
      const bool wanted = needed != nullptr && std::string(key) == needed;
      if (wanted && !in.contains(key)) {
        error(json_pointer_append(path, key), action_name + " needs " + key);
      } else if (!wanted && in.contains(key)) {
        error(json_pointer_append(path, key), std::string(key) + " does not apply to " + action_name);
      }
    }
    const bool redirects = policy.action == L7Action::kRedirectToUrl ||
                           policy.action == L7Action::kRedirectPrefix;
    if (!redirects && in.contains("redirect_http_code")) {
      error(path + "/redirect_http_code",
            "redirect_http_code applies only to REDIRECT_TO_URL and REDIRECT_PREFIX, not " + action_name);
    }
    if (policy.action != L7Action::kRedirectToPool || policy.redirect_pool_id.empty()) return;
    // The redirect pool must suit the listener like a default pool.
    check_pool_reference(policy.redirect_pool_id, listener.protocol, protocol_known,
                         path + "/redirect_pool_id");
  }

  L7Rule convert_l7rule(const json& in, const std::string& path, const Listener& listener,
                        bool protocol_known) {
    L7Rule rule;
    if (auto v = field(in, path, "id")) {
      rule.id = v->get<std::string>();
      check_unique_id(l7rule_ids_, "L7 rule", rule.id, path + "/id");
    }
    const json* type = field(in, path, "type");
    const json* compare = field(in, path, "compare_type");
    const json* value = field(in, path, "value");
    if (type) rule.type = *enum_from(kL7RuleTypes, type->get<std::string>());
    if (compare) rule.compare_type = *enum_from(kL7CompareTypes, compare->get<std::string>());
    if (auto v = field(in, path, "key")) rule.key = v->get<std::string>();
    if (value) rule.value = value->get<std::string>();
    if (auto v = field(in, path, "invert")) rule.invert = v->get<bool>();
    if (auto v = field(in, path, "admin_state_up")) rule.admin_state_up = v->get<bool>();
    if (!type) return rule;
    const std::string type_name = enum_name(kL7RuleTypes, rule.type);
    const bool keyed = rule.type == L7RuleType::kHeader || rule.type == L7RuleType::kCookie ||
                       rule.type == L7RuleType::kSslDnField;
    if (keyed && !in.contains("key")) {
      error(path + "/key", type_name + " rules need key (the " +
                               (rule.type == L7RuleType::kHeader   ? "header"
                                : rule.type == L7RuleType::kCookie ? "cookie"
                                                                   : "subject field") +
                               " to compare)");
    } else if (!keyed && in.contains("key")) {
      error(path + "/key", "key does not apply to " + type_name + " rules");
    }
    const bool about_client_certificate = rule.type == L7RuleType::kSslConnHasCert ||
                                          rule.type == L7RuleType::kSslVerifyResult ||
                                          rule.type == L7RuleType::kSslDnField;
    if (about_client_certificate && protocol_known &&
        listener.protocol != ListenerProtocol::kTerminatedHttps) {
      error(path + "/type", type_name + " rules need a TERMINATED_HTTPS listener (they look at the "
                                        "client's TLS certificate)");
    }
    if (compare) {
      const bool equal_only = rule.type == L7RuleType::kSslConnHasCert ||
                              rule.type == L7RuleType::kSslVerifyResult;
      if (equal_only && rule.compare_type != L7CompareType::kEqualTo) {
        error(path + "/compare_type", type_name + " rules compare with EQUAL_TO only");
      }
      if (rule.type == L7RuleType::kFileType && rule.compare_type != L7CompareType::kEqualTo &&
          rule.compare_type != L7CompareType::kRegex) {
        error(path + "/compare_type", "FILE_TYPE rules compare with EQUAL_TO or REGEX only");
      }
    }
    if (!value) return rule;
    if (rule.type == L7RuleType::kSslConnHasCert && rule.value != "True") {
      error(path + "/value", "SSL_CONN_HAS_CERT rules take the value \"True\" (use invert for "
                             "connections without a certificate)");
    }
    if (rule.type == L7RuleType::kSslVerifyResult &&
        rule.value.find_first_not_of("0123456789") != std::string::npos) {
      error(path + "/value", "SSL_VERIFY_RESULT rules take a verification result number (0 = OK), not " +
                                 json_string(rule.value));
    }
    if (compare && rule.compare_type == L7CompareType::kRegex) {
      RE2::Options options;
      options.set_log_errors(false);
      RE2 pattern(rule.value, options);
      if (!pattern.ok()) {
        error(path + "/value", json_string(rule.value) + " is not a RE2 regular expression (" +
                                   pattern.error() +
                                   "); RE2 has no backreferences or lookaround");
      }
    }
    return rule;
  }

  // ---- TLS ----

  static constexpr const char* kListenerTlsFields[] = {
      "default_tls_container", "sni_containers",         "tls_versions",
      "tls_ciphers",           "alpn_protocols",         "client_authentication",
      "client_ca_tls_container", "client_crl_container", "hsts_max_age",
      "hsts_include_subdomains", "hsts_preload"};

  void convert_listener_tls(const json& in, const std::string& path, Listener& listener) {
    const bool terminated = listener.protocol == ListenerProtocol::kTerminatedHttps;
    if (!terminated) {
      for (const char* key : kListenerTlsFields) {
        if (in.contains(key)) {
          error(json_pointer_append(path, key),
                std::string(key) + " applies only to TERMINATED_HTTPS listeners, not " +
                    enum_name(kListenerProtocols, listener.protocol));
        }
      }
      return;
    }
    ListenerTls tls;
    tls.path = path;
    if (const json* c = nested_object(in, "default_tls_container")) {
      tls.default_container = convert_container(*c, path + "/default_tls_container");
    } else if (!in.contains("default_tls_container")) {
      error(path + "/default_tls_container",
            "TERMINATED_HTTPS listeners need a default_tls_container (the certificate served "
            "when no SNI certificate matches)");
    }
    if (auto list = in.find("sni_containers"); list != in.end() && list->is_array()) {
      for (size_t i = 0; i < list->size(); ++i) {
        if (!(*list)[i].is_object()) continue;
        tls.sni_containers.push_back(
            convert_container((*list)[i], json_pointer_append(path + "/sni_containers", i)));
      }
    }
    if (const json* v = field(in, path, "tls_versions")) tls.versions = tls_versions(*v, path);
    if (auto v = field(in, path, "tls_ciphers")) tls.ciphers = v->get<std::string>();
    if (auto v = field(in, path, "alpn_protocols")) {
      tls.alpn_protocols = v->get<std::vector<std::string>>();
    }
    const json* auth = field(in, path, "client_authentication");
    if (auth) {
      const std::string mode = auth->get<std::string>();
      tls.client_authentication = mode == "MANDATORY" ? ClientAuthentication::kMandatory
                                  : mode == "OPTIONAL" ? ClientAuthentication::kOptional
                                                       : ClientAuthentication::kNone;
    }
    if (auto v = field(in, path, "client_ca_tls_container")) tls.client_ca_pem = v->get<std::string>();
    if (auto v = field(in, path, "client_crl_container")) tls.client_crl_pem = v->get<std::string>();
    if (tls.client_authentication != ClientAuthentication::kNone && !in.contains("client_ca_tls_container")) {
      error(path + "/client_authentication",
            std::string("client_authentication ") + (auth ? auth->get<std::string>() : "") +
                " needs client_ca_tls_container (the CA that signs client certificates)");
    }
    if (in.contains("client_crl_container") && !in.contains("client_ca_tls_container")) {
      error(path + "/client_crl_container", "client_crl_container needs client_ca_tls_container");
    }
    if (auto v = field(in, path, "hsts_max_age")) {
      listener.hsts.enabled = true;
      listener.hsts.max_age_s = v->get<uint32_t>();
    }
    for (const char* key : {"hsts_include_subdomains", "hsts_preload"}) {
      const json* v = field(in, path, key);
      if (!v) continue;
      if (!listener.hsts.enabled && v->get<bool>()) {
        error(json_pointer_append(path, key), std::string(key) + " needs hsts_max_age");
      }
      (std::string(key) == "hsts_preload" ? listener.hsts.preload
                                          : listener.hsts.include_subdomains) = v->get<bool>();
    }
    listener.tls = std::move(tls);
  }

  void convert_pool_tls(const json& in, const std::string& path, Pool& pool) {
    if (in.contains("crl_container") && !in.contains("ca_tls_container")) {
      error(path + "/crl_container", "crl_container needs ca_tls_container");
    }
    const json* enabled = field(in, path, "tls_enabled");
    if (!enabled || !enabled->get<bool>()) {
      // Octavia keeps the TLS fields for later. Without TLS there is no ALPN to negotiate with:
      // h2 first in alpn_protocols means h2c with prior knowledge; anything else HTTP/1.1.
      if (auto v = field(in, path, "alpn_protocols")) {
        auto protocols = v->get<std::vector<std::string>>();
        if (!protocols.empty() && protocols.front() == "h2") {
          pool.member_http = MemberHttp::kH2PriorKnowledge;
          check_h2_pool(pool, path + "/alpn_protocols/0");
        }
      }
      return;
    }
    if (field(in, path, "protocol") && pool.protocol != PoolProtocol::kHttp) {
      error(path + "/tls_enabled", std::string("re-encryption (tls_enabled) applies to HTTP pools "
                                               "here, not ") +
                                       enum_name(kPoolProtocols, pool.protocol));
    }
    PoolTls tls;
    tls.path = path;
    if (const json* c = nested_object(in, "tls_container")) {
      tls.client_certificate = convert_container(*c, path + "/tls_container");
    }
    if (auto v = field(in, path, "ca_tls_container")) tls.ca_pem = v->get<std::string>();
    if (auto v = field(in, path, "crl_container")) tls.crl_pem = v->get<std::string>();
    if (const json* v = field(in, path, "tls_versions")) tls.versions = tls_versions(*v, path);
    if (auto v = field(in, path, "tls_ciphers")) tls.ciphers = v->get<std::string>();
    if (auto v = field(in, path, "alpn_protocols")) {
      tls.alpn_protocols = v->get<std::vector<std::string>>();
      // h2 offered in ALPN: the member chooses; h2 if it selects it, else HTTP/1.1.
      for (size_t i = 0; i < tls.alpn_protocols.size(); ++i) {
        if (tls.alpn_protocols[i] == "h2") {
          pool.member_http = MemberHttp::kH2Negotiated;
          check_h2_pool(pool, json_pointer_append(path + "/alpn_protocols", i));
        }
      }
    }
    pool.tls = std::move(tls);
  }

  // h2 towards members needs HTTP on the member side.
  void check_h2_pool(const Pool& pool, const std::string& path) {
    if (pool.protocol != PoolProtocol::kHttp) {
      error(path, std::string("h2 towards members applies to HTTP pools, not ") +
                      enum_name(kPoolProtocols, pool.protocol));
    }
  }

  // Octavia's version names as TlsVersion bits; SSLv3 is refused (BoringSSL has none).
  uint8_t tls_versions(const json& names, const std::string& object_path) {
    uint8_t bits = 0;
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string name = names[i].get<std::string>();
      if (name == "TLSv1") bits |= kTls10;
      if (name == "TLSv1.1") bits |= kTls11;
      if (name == "TLSv1.2") bits |= kTls12;
      if (name == "TLSv1.3") bits |= kTls13;
      if (name == "SSLv3") {
        error(json_pointer_append(object_path + "/tls_versions", i),
              "SSLv3 is not offered: it is broken (POODLE) and BoringSSL does not implement it");
      }
    }
    return bits;
  }

  TlsContainer convert_container(const json& in, const std::string& path) {
    TlsContainer c;
    c.path = path;
    if (auto v = field(in, path, "id")) c.id = v->get<std::string>();
    if (auto v = field(in, path, "certificate")) c.certificate = v->get<std::string>();
    if (auto v = field(in, path, "private_key")) c.private_key = v->get<std::string>();
    if (auto v = field(in, path, "intermediates")) {
      c.intermediates = v->get<std::vector<std::string>>();
    }
    const bool inline_pem = in.contains("certificate") || in.contains("private_key") ||
                            in.contains("intermediates");
    if (in.contains("file")) {
      if (inline_pem) {
        error(path + "/file", "give either file or certificate and private_key, not both");
      }
      if (auto v = field(in, path, "file")) c.file = resolve_path(v->get<std::string>(), path + "/file");
    } else {
      for (const char* key : {"certificate", "private_key"}) {
        if (!in.contains(key)) {
          error(json_pointer_append(path, key),
                std::string(key) + " is required (or file, a PEM bundle with certificate and key)");
        }
      }
    }
    return c;
  }

  std::string resolve_path(const std::string& file, const std::string& path) {
    if (file.front() == '/') return file;
    if (base_directory_.empty()) {
      error(path, json_string(file) +
                      " is relative; only a config loaded from a file may use relative paths");
      return file;
    }
    return base_directory_ + "/" + file;
  }

  void convert_http2_limits(const json& in, Http2Limits& out) {
    const std::pair<const char*, uint32_t*> fields[] = {
        {"max_concurrent_streams", &out.max_concurrent_streams},
        {"max_header_list_bytes", &out.max_header_list_bytes},
        {"header_table_bytes", &out.header_table_bytes},
        {"initial_window_bytes", &out.initial_window_bytes},
        {"max_resets_per_second", &out.max_resets_per_second},
        {"max_control_frames_per_second", &out.max_control_frames_per_second},
        {"header_timeout_ms", &out.header_timeout_ms},
    };
    for (const auto& [key, target] : fields) {
      if (auto v = field(in, "/http2", key)) *target = v->get<uint32_t>();
    }
  }

  void convert_tls_sessions(const json& in, TlsSessions& out) {
    if (auto v = field(in, "/tls", "ticket_key_rotation_s")) out.ticket_key_rotation_s = v->get<uint32_t>();
    if (auto v = field(in, "/tls", "session_cache_size")) out.session_cache_size = v->get<uint32_t>();
    if (auto v = field(in, "/tls", "session_timeout_s")) out.session_timeout_s = v->get<uint32_t>();
  }

  void convert_insert_headers(const json& in, const std::string& path, Listener& listener,
                              bool protocol_known) {
    auto flag = [&](const char* key, bool& out) {
      const json* v = field(in, path, key);
      if (!v) return;
      out = v->is_boolean() ? v->get<bool>()
                            : (v->get<std::string>() == "true" || v->get<std::string>() == "True");
    };
    flag("X-Forwarded-For", listener.insert_headers.x_forwarded_for);
    flag("X-Forwarded-Port", listener.insert_headers.x_forwarded_port);
    flag("X-Forwarded-Proto", listener.insert_headers.x_forwarded_proto);
    InsertHeaders& h = listener.insert_headers;
    const std::pair<const char*, bool*> client_certificate_headers[] = {
        {"X-SSL-Client-Verify", &h.x_ssl_client_verify},
        {"X-SSL-Client-Has-Cert", &h.x_ssl_client_has_cert},
        {"X-SSL-Client-DN", &h.x_ssl_client_dn},
        {"X-SSL-Client-CN", &h.x_ssl_client_cn},
        {"X-SSL-Issuer", &h.x_ssl_issuer},
        {"X-SSL-Client-SHA1", &h.x_ssl_client_sha1},
        {"X-SSL-Client-Not-Before", &h.x_ssl_client_not_before},
        {"X-SSL-Client-Not-After", &h.x_ssl_client_not_after},
    };
    for (const auto& [key, target] : client_certificate_headers) {
      flag(key, *target);
      if (*target && protocol_known && listener.protocol != ListenerProtocol::kTerminatedHttps) {
        error(json_pointer_append(path, key),
              std::string(key) + " needs a TERMINATED_HTTPS listener (it describes the client's "
                                 "TLS certificate)");
      }
    }
  }

  // `id` names a pool that a listener of `listener_protocol` sends requests to.
  void check_pool_reference(const std::string& id, ListenerProtocol listener_protocol,
                            bool protocol_known, const std::string& path) {
    if (!pool_ids_.count(id)) {
      if (all_pool_ids_readable()) error(path, "no pool has id " + json_string(id));
      return;
    }
    auto pool_protocol = pool_protocols_.find(id);
    if (!protocol_known || pool_protocol == pool_protocols_.end()) return;
    auto allowed = pool_protocols_for(listener_protocol);
    for (PoolProtocol p : allowed) {
      if (p == pool_protocol->second) return;
    }
    std::string names;
    for (PoolProtocol p : allowed) {
      names += names.empty() ? "" : p == allowed.back() ? " or " : ", ";
      names += enum_name(kPoolProtocols, p);
    }
    error(path, std::string(enum_name(kListenerProtocols, listener_protocol)) +
                    " listeners cannot use " + enum_name(kPoolProtocols, pool_protocol->second) +
                    " pool " + json_string(id) + "; they take " + names + " pools");
  }

  const json& doc_;
  const SchemaVerdict& verdict_;
  const std::string base_directory_;  // for relative certificate paths; empty: none allowed
  std::vector<ConfigError>& errors_;
  std::map<std::string, std::string> listener_ids_, pool_ids_, member_ids_, monitor_ids_;
  std::map<std::string, std::string> l7policy_ids_, l7rule_ids_;
  std::map<std::string, PoolProtocol> pool_protocols_;
  std::map<BindKey, std::string> binds_;
};

// Orders JSON pointers as the document reads: token by token, array indexes numerically.
bool pointer_before(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    size_t a_end = a.find('/', i + 1), b_end = b.find('/', j + 1);
    if (a_end == std::string::npos) a_end = a.size();
    if (b_end == std::string::npos) b_end = b.size();
    std::string_view x(a.data() + i + 1, a_end - i - 1), y(b.data() + j + 1, b_end - j - 1);
    auto numeric = [](std::string_view t) {
      return !t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos;
    };
    if (x != y) {
      if (numeric(x) && numeric(y) && x.size() != y.size()) return x.size() < y.size();
      return x < y;
    }
    i = a_end;
    j = b_end;
  }
  return a.size() - i < b.size() - j;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; operators need the rest.
std::string strip_exception_tag(const std::string& what) {
  auto end = what.find("] ");
  return what.rfind("[json.exception.", 0) == 0 && end != std::string::npos ? what.substr(end + 2)
                                                                            : what;
}

}  // namespace

LoadResult load_config(const json& document, const LoadOptions& options) {
  LoadResult result;
  const std::vector<SchemaError> schema_errors = engine_config_schema().validate(document);
  const SchemaVerdict verdict(schema_errors);
  for (const auto& e : schema_errors) result.errors.push_back(ConfigError{e.path, e.message});
  std::shared_ptr<Config> config;
  try {
    config = Converter(document, verdict, options.base_directory, result.errors).run();
  } catch (const std::exception& e) {
    // The schema vouched for every value read; reaching this is a bug, reported, not thrown.
    result.errors.push_back(ConfigError{"", std::string("internal error: ") + e.what()});
  }
  // Schema and semantic errors interleaved by where they are, so related ones sit together.
  std::stable_sort(
      result.errors.begin(), result.errors.end(),
      [](const ConfigError& a, const ConfigError& b) { return pointer_before(a.path, b.path); });
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

LoadResult load_config_json(std::string_view json_text, const LoadOptions& options) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::parse_error& e) {
    LoadResult result;
    result.errors.push_back(ConfigError{"", "invalid JSON: " + strip_exception_tag(e.what())});
    return result;
  }
  return load_config(document, options);
}

LoadOptions options_for_file(const std::string& path) {
  LoadOptions options;
  const auto slash = path.rfind('/');
  options.base_directory = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  return options;
}

LoadResult load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.errors.push_back(
        ConfigError{"", "cannot read config file " + path + ": " + std::strerror(errno)});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return load_config_json(text.str(), options_for_file(path));
}

std::string format_errors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    out += e.path.empty() ? "(root)" : e.path;
    out += ": ";
    out += e.message;
    out += '\n';
  }
  return out;
}

}  // namespace pharos::config
