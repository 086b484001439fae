#include "engine/config/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace pharos::config {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  std::string copy(text);
  IpAddress out;
  out.text = copy;
  if (inet_pton(AF_INET, copy.c_str(), out.bytes.data()) == 1) {
    out.family = AF_INET;
    return out;
  }
  if (inet_pton(AF_INET6, copy.c_str(), out.bytes.data()) == 1) {
    out.family = AF_INET6;
    return out;
  }
  return std::nullopt;
}

socklen_t IpAddress::to_sockaddr(uint16_t port, sockaddr_storage* out) const {
  std::memset(out, 0, sizeof(*out));
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const unsigned max_len = address->family == AF_INET ? 32 : 128;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc() || end != digits.data() + digits.size() || len > max_len) {
      return std::nullopt;
    }
  }
  Cidr out;
  out.network = *address;
  out.network.text = std::string(text);
  out.prefix_len = static_cast<uint8_t>(len);
  return out;
}

namespace {

bool prefix_matches(const uint8_t* a, const uint8_t* b, unsigned bits) {
  unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

bool Cidr::contains(const sockaddr* peer) const {
  const uint8_t* peer_bytes = nullptr;
  int peer_family = peer->sa_family;
  if (peer_family == AF_INET) {
    peer_bytes = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(peer)->sin_addr);
  } else if (peer_family == AF_INET6) {
    const auto* v6 = &reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr;
    peer_bytes = reinterpret_cast<const uint8_t*>(v6);
    if (IN6_IS_ADDR_V4MAPPED(v6)) {
      peer_family = AF_INET;
      peer_bytes += 12;
    }
  } else {
    return false;
  }
  if (peer_family != network.family) return false;
  return prefix_matches(peer_bytes, network.bytes.data(), prefix_len);
}

}  // namespace pharos::config
