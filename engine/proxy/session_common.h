// Small pieces shared by the TCP and HTTP sessions.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "engine/config/config_types.h"
#include "engine/records/transaction_record.h"

namespace pharos::proxy {

// Output buffered towards one side beyond which the other side stops being read.
inline constexpr size_t kHighWatermark = 256 * 1024;

// Client identity captured at accept time.
struct ClientAddress {
  sockaddr_storage address{};
  std::string text;
  uint16_t port = 0;
  uint64_t hash_ip = 0;       // for SOURCE_IP
  uint64_t hash_ip_port = 0;  // for SOURCE_IP_PORT

  // The client key a pool's algorithm hashes on (ignored by the non-hashing ones).
  uint64_t hash_for(config::LbAlgorithm algorithm) const {
    return algorithm == config::LbAlgorithm::kSourceIpPort ? hash_ip_port : hash_ip;
  }
};

}  // namespace pharos::proxy
