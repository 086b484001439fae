// The engine's configuration model: the typed form of one JSON document that follows
// schema/engine-config.schema.json. Names are Octavia's. Types only; loading and validation
// live in config_loader.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/config/address.h"

namespace pharos::config {

enum class ListenerProtocol { kTcp, kHttp, kHttps, kTerminatedHttps };

// Whether the engine reads HTTP on such a listener (TERMINATED_HTTPS: after TLS); HTTPS is
// passthrough and stays TCP.
constexpr bool speaks_http(ListenerProtocol protocol) {
  return protocol == ListenerProtocol::kHttp || protocol == ListenerProtocol::kTerminatedHttps;
}
enum class PoolProtocol { kTcp, kHttp, kHttps, kProxy };
enum class LbAlgorithm { kRoundRobin, kLeastConnections, kSourceIp, kSourceIpPort };

// Octavia's listener insert_headers: which X-Forwarded-* and X-SSL-* headers the engine adds.
struct InsertHeaders {
  bool x_forwarded_for = false;
  bool x_forwarded_port = false;
  bool x_forwarded_proto = false;
  // Client certificate headers, TERMINATED_HTTPS only (Octavia's SUPPORTED_SSL_HEADERS).
  bool x_ssl_client_verify = false;
  bool x_ssl_client_has_cert = false;
  bool x_ssl_client_dn = false;
  bool x_ssl_client_cn = false;
  bool x_ssl_issuer = false;
  bool x_ssl_client_sha1 = false;
  bool x_ssl_client_not_before = false;
  bool x_ssl_client_not_after = false;

  bool any_client_certificate_header() const {
    return x_ssl_client_verify || x_ssl_client_has_cert || x_ssl_client_dn || x_ssl_client_cn ||
           x_ssl_issuer || x_ssl_client_sha1 || x_ssl_client_not_before || x_ssl_client_not_after;
  }
};

// TLS protocol versions as a bit set; Octavia's names map to these bits.
enum TlsVersion : uint8_t {
  kTls10 = 1 << 0,
  kTls11 = 1 << 1,
  kTls12 = 1 << 2,
  kTls13 = 1 << 3,
};
constexpr uint8_t kDefaultTlsVersions = kTls12 | kTls13;

// A certificate and its private key, as PEM text (certificate may carry its chain after it) or
// as the path of one PEM bundle the agent wrote. The config loader checks the form; the engine's
// TLS code parses the PEM when it builds the listener or pool (errors name `path`).
struct TlsContainer {
  std::string id;
  std::string certificate;
  std::string private_key;
  std::vector<std::string> intermediates;
  std::string file;
  std::string path;  // JSON pointer of this container in the document, for errors
};

enum class ClientAuthentication { kNone, kOptional, kMandatory };

// What a TERMINATED_HTTPS listener needs for TLS (Octavia's names).
struct ListenerTls {
  TlsContainer default_container;
  std::vector<TlsContainer> sni_containers;
  uint8_t versions = kDefaultTlsVersions;  // TlsVersion bits
  std::string ciphers;                     // empty: the engine's secure default
  std::vector<std::string> alpn_protocols;  // empty: http/1.1
  ClientAuthentication client_authentication = ClientAuthentication::kNone;
  std::string client_ca_pem;   // required unless client_authentication is kNone
  std::string client_crl_pem;  // optional; needs client_ca_pem
  std::string path;            // JSON pointer of the listener, for errors
};

// Strict-Transport-Security on responses of a TERMINATED_HTTPS listener.
struct Hsts {
  bool enabled = false;
  uint32_t max_age_s = 0;
  bool include_subdomains = false;
  bool preload = false;
};

// Re-encryption towards members (pool tls_enabled and friends).
struct PoolTls {
  std::optional<TlsContainer> client_certificate;  // Octavia's tls_container
  std::string ca_pem;                              // empty: members are not verified
  std::string crl_pem;
  uint8_t versions = kDefaultTlsVersions;
  std::string ciphers;
  std::vector<std::string> alpn_protocols;  // empty: no ALPN, HTTP/1.1
  std::string path;                         // JSON pointer of the pool, for errors
};

struct Member {
  std::string id;
  std::string name;
  IpAddress address;
  uint16_t protocol_port = 0;
  uint32_t weight = 1;  // 0..256; 0 takes no new connections.
  bool backup = false;  // used only when no primary member is usable.
  bool admin_state_up = true;
  std::optional<IpAddress> monitor_address;  // where health probes go; unset: address
  uint16_t monitor_port = 0;                 // 0: protocol_port
};

struct HealthMonitor {
  std::string id;
  std::string name;
  std::string type;  // HTTP, HTTPS, TCP, PING, TLS-HELLO, UDP-CONNECT, SCTP
  uint32_t delay_s = 5;
  uint32_t timeout_s = 5;
  uint32_t max_retries = 3;       // rise
  uint32_t max_retries_down = 3;  // fall
  std::string http_method = "GET";
  std::string url_path = "/";
  std::string expected_codes = "200";
  std::string http_version = "1.1";
  std::string domain_name;
  bool admin_state_up = true;
};

// Octavia's session persistence of a pool.
struct SessionPersistence {
  enum class Type { kSourceIp, kHttpCookie, kAppCookie };
  Type type = Type::kSourceIp;
  std::string cookie_name;       // APP_COOKIE: the application's cookie
  uint32_t timeout_s = 0;        // idle lifetime of a sticky entry; 0: until evicted
};

// How the engine speaks HTTP to a pool's members, from its alpn_protocols.
enum class MemberHttp {
  kHttp1,             // HTTP/1.1 (no h2 in alpn_protocols)
  kH2Negotiated,      // TLS with h2 offered in ALPN: h2 when the member selects it, else HTTP/1.1
  kH2PriorKnowledge,  // no TLS and h2 first in alpn_protocols: h2c with prior knowledge
};

struct Pool {
  std::string id;
  std::string name;
  PoolProtocol protocol = PoolProtocol::kHttp;
  LbAlgorithm lb_algorithm = LbAlgorithm::kRoundRobin;
  bool admin_state_up = true;
  uint32_t connect_retries = 3;  // other members tried after a failed connect.
  std::vector<Member> members;
  std::optional<HealthMonitor> healthmonitor;
  std::optional<PoolTls> tls;  // set when tls_enabled
  std::optional<SessionPersistence> session_persistence;
  MemberHttp member_http = MemberHttp::kHttp1;
};

// Octavia's L7 rules and policies (HTTP and TERMINATED_HTTPS listeners). A policy matches when
// all of its enabled rules match; HAProxy's evaluation order, which Octavia documents, decides
// between matching policies: REJECT first, then the redirects to a URL or prefix, then
// REDIRECT_TO_POOL, each group by position.
enum class L7Action { kReject, kRedirectToUrl, kRedirectPrefix, kRedirectToPool };
enum class L7RuleType {
  kHostName,         // the Host header (or :authority), case-insensitively
  kPath,             // the path, without the query
  kFileType,         // the end of the path
  kHeader,           // the header named by key
  kCookie,           // the cookie named by key
  kSslConnHasCert,   // the client presented a certificate (value "True")
  kSslVerifyResult,  // the client certificate's verification result (value: 0 = OK, else X509_V_ERR_*)
  kSslDnField,       // a field of the client certificate's subject named by key (CN, O, OU...)
};
enum class L7CompareType { kRegex, kStartsWith, kEndsWith, kContains, kEqualTo };

struct L7Rule {
  std::string id;
  L7RuleType type = L7RuleType::kPath;
  L7CompareType compare_type = L7CompareType::kEqualTo;
  std::string key;    // HEADER, COOKIE, SSL_DN_FIELD
  std::string value;  // a RE2 pattern for REGEX (checked by the loader)
  bool invert = false;
  bool admin_state_up = true;  // disabled rules are left out of their policy
};

struct L7Policy {
  std::string id;
  std::string name;
  L7Action action = L7Action::kReject;
  uint32_t position = 1;
  std::string redirect_pool_id;  // REDIRECT_TO_POOL
  std::string redirect_url;      // REDIRECT_TO_URL: the Location, as given
  std::string redirect_prefix;   // REDIRECT_PREFIX: Location = prefix + the request's path and query
  uint16_t redirect_http_code = 302;  // 301, 302, 303, 307 or 308
  bool admin_state_up = true;  // a disabled policy, or one without enabled rules, never matches
  std::vector<L7Rule> rules;
};

struct Listener {
  std::string id;
  std::string name;
  ListenerProtocol protocol = ListenerProtocol::kHttp;
  IpAddress bind_address;
  uint16_t protocol_port = 0;
  bool admin_state_up = true;
  int64_t connection_limit = -1;  // -1: unlimited
  uint32_t timeout_client_data_ms = 50000;
  uint32_t timeout_member_connect_ms = 5000;
  uint32_t timeout_member_data_ms = 50000;
  uint32_t timeout_tcp_inspect_ms = 0;
  std::vector<Cidr> allowed_cidrs;  // empty: everyone
  InsertHeaders insert_headers;
  std::string default_pool_id;  // empty: no pool, requests get 503
  std::optional<ListenerTls> tls;  // set exactly for TERMINATED_HTTPS
  Hsts hsts;
  bool h2c = false;  // HTTP listeners: accept HTTP/2 with prior knowledge
  std::vector<L7Policy> l7policies;  // as configured; see L7Action for the evaluation order
};

// Limits the engine applies to HTTP/1 parsing; defaults suit Octavia's HAProxy-like defaults.
struct HttpLimits {
  uint32_t max_header_bytes = 16384;
  uint32_t max_headers = 100;
};

// HTTP/2 limits, for every listener that speaks h2.
struct Http2Limits {
  uint32_t max_concurrent_streams = 100;
  uint32_t max_header_list_bytes = 65536;
  uint32_t header_table_bytes = 4096;
  uint32_t initial_window_bytes = 65535;
  uint32_t max_resets_per_second = 200;
  uint32_t max_control_frames_per_second = 200;
  uint32_t header_timeout_ms = 10000;
};

// TLS session resumption, shared by every TERMINATED_HTTPS listener.
struct TlsSessions {
  uint32_t ticket_key_rotation_s = 3600;  // 0: no tickets
  uint32_t session_cache_size = 20000;    // 0: no server-side cache
  uint32_t session_timeout_s = 300;
};

struct Config {
  uint64_t version = 0;
  std::string amphora_id;
  uint32_t workers = 0;  // 0: one per core
  HttpLimits http;
  Http2Limits http2;
  TlsSessions tls;
  std::string records_socket;  // unix datagram socket path for transaction records; empty: off
  std::vector<Listener> listeners;
  std::vector<Pool> pools;

  const Pool* find_pool(const std::string& id) const;
};

}  // namespace pharos::config
