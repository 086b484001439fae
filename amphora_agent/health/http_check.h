// The HTTP half of HTTP and HTTPS checks: the request sent and the status line read back.
// Pure functions, no I/O.
#pragma once

#include <string>
#include <string_view>

#include "amphora_agent/health/health_types.h"

namespace pharos::health {

// The request bytes for one check. host is the Host header value; empty sends none (1.0 only).
std::string build_http_request(const HealthMonitor& monitor, std::string_view host);

// The Host header value: domain_name when set, else for HTTP/1.1 the address ("[v6]" bracketed),
// else empty (HTTP/1.0 sends no Host).
std::string http_host_header(const HealthMonitor& monitor, std::string_view address, bool ipv6);

enum class StatusLineParse { kNeedMore, kMalformed, kComplete };

// Reads "HTTP/1.x NNN ..." from the start of a response; *status_code is set on kComplete.
// kNeedMore until the first CRLF (or LF) arrives; kMalformed if it cannot be a status line.
StatusLineParse parse_http_status_line(std::string_view received, int* status_code);

// Rejects methods, paths and names that would let a monitor inject bytes into the request.
bool valid_http_method(std::string_view method);
bool valid_url_path(std::string_view path);
bool valid_domain_name(std::string_view name);

}  // namespace pharos::health
