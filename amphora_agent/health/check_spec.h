// A validated, immutable MemberCheck with everything a probe needs precomputed (target socket
// address, request bytes, expected codes). Built on the caller's thread by configure(), shared
// read-only with the checker thread.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>

#include "amphora_agent/health/expected_codes.h"
#include "amphora_agent/health/health_types.h"

namespace pharos::health {

struct CheckSpec {
  MemberCheck member;
  sockaddr_storage target{};  // monitor_address/monitor_port when set, else address/port
  socklen_t target_len = 0;
  std::string target_text;    // "addr:port" or "[v6]:port" for reasons
  std::optional<ExpectedCodes> expected_codes;  // HTTP and HTTPS
  std::string http_request;                     // HTTP and HTTPS
  std::string sni;                              // HTTPS and TLS-HELLO; empty: none
};

// Validates one desired-set entry; nullptr and *error when it cannot be checked (bad address,
// bad monitor values, or a type this host cannot run, e.g. SCTP without kernel support).
std::shared_ptr<const CheckSpec> compile_check(const MemberCheck& member, std::string* error);

// Whether this kernel lets the agent open the sockets a monitor type needs (SCTP: the sctp
// module; PING: ICMP datagram sockets or raw sockets). Probed once, cached.
bool monitor_type_supported(MonitorType type, std::string* reason);

}  // namespace pharos::health
