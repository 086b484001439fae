// Types of the member health checker: what to check (one entry of the desired set), the result
// of one check and the status reported to the owner. Types only; the API is health_checker.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace pharos::health {

// Octavia's HealthMonitor types.
enum class MonitorType { kHttp, kHttps, kTcp, kPing, kTlsHello, kUdpConnect, kSctp };

// Octavia's spelling ("HTTP", "TLS-HELLO", ...); parse returns false for unknown names.
std::string_view to_string(MonitorType type);
bool parse_monitor_type(std::string_view name, MonitorType* out);

// One Octavia HealthMonitor as it applies to a member. Durations are milliseconds so tests can
// run fast; Octavia's delay and timeout are whole seconds (multiply by 1000).
struct HealthMonitor {
  MonitorType type = MonitorType::kHttp;
  std::chrono::milliseconds delay{5000};    // between the starts of two checks
  std::chrono::milliseconds timeout{5000};  // bound on one whole check
  uint32_t max_retries = 3;                 // rise: consecutive successes to go UP
  uint32_t max_retries_down = 3;            // fall: consecutive failures to go DOWN
  // HTTP and HTTPS only.
  std::string http_method = "GET";
  std::string url_path = "/";
  std::string expected_codes = "200";  // "200", "200,202", "200-204"
  std::string http_version = "1.1";    // "1.0" or "1.1"
  std::string domain_name;             // Host header (and TLS SNI); 1.1 defaults to the address

  bool operator==(const HealthMonitor&) const = default;
};

// One member to check: an entry of the desired set given to HealthChecker::configure.
struct MemberCheck {
  std::string member_id;
  std::string pool_id;
  std::string address;  // literal IPv4 or IPv6
  uint16_t port = 0;    // protocol_port; ignored by PING
  std::string monitor_address;  // overrides address when not empty
  uint16_t monitor_port = 0;    // overrides port when not 0
  HealthMonitor monitor;

  bool operator==(const MemberCheck&) const = default;
};

// Unknown until the first decision. A member is assumed UP meanwhile (as HAProxy does): the
// first successful check reports UP, max_retries_down failures in a row report DOWN.
enum class MemberStatus { kUnknown, kUp, kDown };
std::string_view to_string(MemberStatus status);

// Called on the checker thread for every decision (the first one, then each transition). It
// must not block and must not destroy the HealthChecker; hand the event to another thread.
using StatusCallback =
    std::function<void(const std::string& member_id, MemberStatus status, const std::string& reason)>;

// A desired-set entry that configure() refused; it is not checked and gets no status.
struct RejectedMember {
  std::string member_id;
  std::string reason;
};

// Counters for operators and the benchmark; read with HealthChecker::stats().
struct CheckerStats {
  uint64_t checks_started = 0;
  uint64_t checks_succeeded = 0;
  uint64_t checks_failed = 0;  // including timeouts
  uint64_t checks_timed_out = 0;
  uint64_t transitions = 0;
  uint64_t callback_exceptions = 0;  // the callback threw; the exception was swallowed
  size_t members = 0;
  std::chrono::nanoseconds thread_cpu_time{0};  // CPU used by the checker thread so far
};

}  // namespace pharos::health
