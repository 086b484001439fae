#include "amphora_agent/health/health_types.h"

namespace pharos::health {

std::string_view to_string(MonitorType type) {
  switch (type) {
    case MonitorType::kHttp: return "HTTP";
    case MonitorType::kHttps: return "HTTPS";
    case MonitorType::kTcp: return "TCP";
    case MonitorType::kPing: return "PING";
    case MonitorType::kTlsHello: return "TLS-HELLO";
    case MonitorType::kUdpConnect: return "UDP-CONNECT";
    case MonitorType::kSctp: return "SCTP";
  }
  return "?";
}

bool parse_monitor_type(std::string_view name, MonitorType* out) {
  for (MonitorType t : {MonitorType::kHttp, MonitorType::kHttps, MonitorType::kTcp, MonitorType::kPing,
                        MonitorType::kTlsHello, MonitorType::kUdpConnect, MonitorType::kSctp}) {
    if (to_string(t) == name) {
      *out = t;
      return true;
    }
  }
  return false;
}

std::string_view to_string(MemberStatus status) {
  switch (status) {
    case MemberStatus::kUnknown: return "UNKNOWN";
    case MemberStatus::kUp: return "UP";
    case MemberStatus::kDown: return "DOWN";
  }
  return "?";
}

}  // namespace pharos::health
