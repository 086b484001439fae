// IP addresses and CIDR blocks as the config names them (IPv4 and IPv6).
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pharos::config {

struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6; 0 when unset
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4
  std::string text;  // as written in the config

  // Parses a literal IPv4 or IPv6 address (no names, no brackets); nullopt when it is not one.
  static std::optional<IpAddress> parse(std::string_view text);
  // Fills a sockaddr_in or sockaddr_in6 for this address and port; returns its length.
  socklen_t to_sockaddr(uint16_t port, sockaddr_storage* out) const;
  bool operator==(const IpAddress& other) const {
    return family == other.family && bytes == other.bytes;
  }
};

struct Cidr {
  IpAddress network;
  uint8_t prefix_len = 0;

  // Parses "a.b.c.d/n" or "x::y/n"; a bare address is a host route. nullopt when invalid.
  static std::optional<Cidr> parse(std::string_view text);
  // True when the peer address falls in this block. IPv4-mapped IPv6 peers match IPv4 blocks.
  bool contains(const sockaddr* peer) const;
};

}  // namespace pharos::config
