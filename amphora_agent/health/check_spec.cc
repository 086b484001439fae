#include "amphora_agent/health/check_spec.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "amphora_agent/health/http_check.h"

namespace pharos::health {
namespace {

struct Support {
  bool sctp = false;
  std::string sctp_reason;
  bool ping = false;
  std::string ping_reason;
};

bool can_open(int family, int type, int protocol, int* err) {
  int fd = ::socket(family, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  ::close(fd);
  return true;
}

const Support& support() {
  static Support s;
  static std::once_flag once;
  std::call_once(once, [] {
    int err = 0;
    s.sctp = can_open(AF_INET, SOCK_STREAM, IPPROTO_SCTP, &err);
    if (!s.sctp) s.sctp_reason = std::string("SCTP is not supported by this kernel: ") + std::strerror(err);
    int err_dgram = 0, err_raw = 0;
    s.ping = can_open(AF_INET, SOCK_DGRAM, IPPROTO_ICMP, &err_dgram) ||
             can_open(AF_INET, SOCK_RAW, IPPROTO_ICMP, &err_raw);
    if (!s.ping) {
      s.ping_reason = std::string("PING needs ICMP datagram sockets (net.ipv4.ping_group_range): ") +
                      std::strerror(err_dgram) + ", or raw sockets: " + std::strerror(err_raw);
    }
  });
  return s;
}

bool parse_address(const std::string& text, uint16_t port, sockaddr_storage* out, socklen_t* len) {
  std::memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

}  // namespace

bool monitor_type_supported(MonitorType type, std::string* reason) {
  const Support& s = support();
  if (type == MonitorType::kSctp && !s.sctp) {
    if (reason) *reason = s.sctp_reason;
    return false;
  }
  if (type == MonitorType::kPing && !s.ping) {
    if (reason) *reason = s.ping_reason;
    return false;
  }
  return true;
}

std::shared_ptr<const CheckSpec> compile_check(const MemberCheck& member, std::string* error) {
  auto fail = [&](std::string message) -> std::shared_ptr<const CheckSpec> {
    *error = std::move(message);
    return nullptr;
  };
  const HealthMonitor& m = member.monitor;
  if (member.member_id.empty()) return fail("member_id is empty");
  if (m.delay.count() <= 0) return fail("delay must be positive");
  if (m.timeout.count() <= 0) return fail("timeout must be positive");
  if (m.max_retries < 1 || m.max_retries_down < 1) {
    return fail("max_retries and max_retries_down must be at least 1");
  }
  std::string reason;
  if (!monitor_type_supported(m.type, &reason)) return fail(reason);

  auto spec = std::make_shared<CheckSpec>();
  spec->member = member;
  const std::string& address = member.monitor_address.empty() ? member.address : member.monitor_address;
  uint16_t port = member.monitor_port != 0 ? member.monitor_port : member.port;
  if (!parse_address(address, port, &spec->target, &spec->target_len)) {
    return fail("address '" + address + "' is not a literal IPv4 or IPv6 address");
  }
  bool ipv6 = spec->target.ss_family == AF_INET6;
  if (m.type != MonitorType::kPing && port == 0) return fail("port must be 1-65535");
  spec->target_text = (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
  if (m.type == MonitorType::kPing) spec->target_text = address;

  if (m.type == MonitorType::kHttp || m.type == MonitorType::kHttps) {
    if (!valid_http_method(m.http_method)) return fail("http_method '" + m.http_method + "' is invalid");
    if (!valid_url_path(m.url_path)) return fail("url_path '" + m.url_path + "' is invalid");
    if (m.http_version != "1.0" && m.http_version != "1.1") {
      return fail("http_version must be 1.0 or 1.1");
    }
    if (!valid_domain_name(m.domain_name)) return fail("domain_name is invalid");
    std::string codes_error;
    spec->expected_codes = ExpectedCodes::parse(m.expected_codes, &codes_error);
    if (!spec->expected_codes) return fail(codes_error);
    spec->http_request = build_http_request(m, http_host_header(m, address, ipv6));
  }
  if (m.type == MonitorType::kHttps || m.type == MonitorType::kTlsHello) {
    if (!valid_domain_name(m.domain_name)) return fail("domain_name is invalid");
    spec->sni = m.domain_name;
  }
  return spec;
}

}  // namespace pharos::health
