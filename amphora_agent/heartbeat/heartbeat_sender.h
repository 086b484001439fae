// Sends heartbeat datagrams over UDP to every controller address. No retries: the next
// heartbeat is the retry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

namespace pharos::heartbeat {

struct Target {
  std::string host;  // IPv4 or IPv6 literal, or a name resolved once at start
  uint16_t port = 0;
};

// Parses "host:port" or "[v6]:port". nullopt when malformed or the port is not 1..65535.
std::optional<Target> parse_target(std::string_view text);

class HeartbeatSender {
 public:
  HeartbeatSender() = default;
  ~HeartbeatSender();
  HeartbeatSender(const HeartbeatSender&) = delete;
  HeartbeatSender& operator=(const HeartbeatSender&) = delete;

  // Resolves every target and opens one socket per address family. Returns a message naming
  // the target that failed, or "" on success.
  std::string open(const std::vector<Target>& targets);

  // Sends the datagram to every resolved target; returns how many sends succeeded.
  size_t send(std::string_view datagram);

  size_t target_count() const { return addresses_.size(); }

 private:
  struct Address {
    sockaddr_storage addr{};
    socklen_t len = 0;
  };
  std::vector<Address> addresses_;
  int fd4_ = -1;
  int fd6_ = -1;
};

}  // namespace pharos::heartbeat
