#include "amphora_agent/health/http_check.h"

#include <algorithm>

namespace pharos::health {
namespace {

// RFC 9110 tchar.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_visible(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

std::string build_http_request(const HealthMonitor& monitor, std::string_view host) {
  std::string request;
  request.reserve(128);
  request.append(monitor.http_method).append(" ").append(monitor.url_path);
  request.append(" HTTP/").append(monitor.http_version).append("\r\n");
  if (!host.empty()) request.append("Host: ").append(host).append("\r\n");
  // Close asks the member to end the exchange; the checker only reads the status line anyway.
  request.append("Connection: close\r\nUser-Agent: pharos-health-check\r\nAccept: */*\r\n\r\n");
  return request;
}

std::string http_host_header(const HealthMonitor& monitor, std::string_view address, bool ipv6) {
  if (!monitor.domain_name.empty()) return monitor.domain_name;
  if (monitor.http_version != "1.1") return {};
  if (ipv6) return "[" + std::string(address) + "]";
  return std::string(address);
}

StatusLineParse parse_http_status_line(std::string_view received, int* status_code) {
  constexpr std::string_view kPrefix = "HTTP/";
  size_t compare = std::min(received.size(), kPrefix.size());
  if (received.substr(0, compare) != kPrefix.substr(0, compare)) return StatusLineParse::kMalformed;
  size_t eol = received.find('\n');
  if (eol == std::string_view::npos) {
    return received.size() > 8192 ? StatusLineParse::kMalformed : StatusLineParse::kNeedMore;
  }
  std::string_view line = received.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // "HTTP/d.d SP ddd" at least; the reason phrase may be empty or absent.
  if (line.size() < 12 || line[5] < '0' || line[5] > '9' || line[6] != '.' || line[7] < '0' ||
      line[7] > '9' || line[8] != ' ') {
    return StatusLineParse::kMalformed;
  }
  int code = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return StatusLineParse::kMalformed;
    code = code * 10 + (line[i] - '0');
  }
  if (line.size() > 12 && line[12] != ' ') return StatusLineParse::kMalformed;
  *status_code = code;
  return StatusLineParse::kComplete;
}

bool valid_http_method(std::string_view method) {
  if (method.empty() || method.size() > 32) return false;
  for (char c : method) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

bool valid_url_path(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 2048) return false;
  for (char c : path) {
    if (!is_visible(c)) return false;
  }
  return true;
}

bool valid_domain_name(std::string_view name) {
  if (name.size() > 255) return false;
  for (char c : name) {
    if (!is_visible(c)) return false;
  }
  return true;
}

}  // namespace pharos::health
