// The lb module's stable hash and the client-address hash built on it.
#include "engine/lb/hash.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "engine/lb/balancer.h"

namespace pharos::lb {
namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;  // 2^64 / phi: odd, well spread bits

// Little-endian load of up to 8 bytes, so the hash is the same on every host.
uint64_t load_le(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

// Domain tags keep an IPv4 client and the IPv6 address with the same leading bytes apart, and
// the with-port hash apart from the address-only one.
constexpr uint64_t kTagIpv4 = 4;
constexpr uint64_t kTagIpv6 = 6;
constexpr uint64_t kTagWithPort = 0x100;

}  // namespace

uint64_t hash_bytes(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  // Each 8-byte block is folded into the state through a full mix round; the length goes in
  // first so strings that differ only by trailing zero bytes do not collide.
  uint64_t h = mix64(seed ^ (kGolden * (uint64_t{size} + 1)));
  while (size >= 8) {
    h = mix64(h ^ load_le(p, 8)) + kGolden;
    p += 8;
    size -= 8;
  }
  if (size > 0) h = mix64(h ^ load_le(p, size)) + kGolden;
  return mix64(h);
}

uint64_t hash_client(const sockaddr* peer, bool with_port) {
  if (peer == nullptr) return 0;
  const unsigned char* address = nullptr;
  size_t address_size = 0;
  uint64_t tag = 0;
  in_port_t port = 0;  // network order, hashed as its two wire bytes
  if (peer->sa_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(peer);
    address = reinterpret_cast<const unsigned char*>(&in4->sin_addr);
    address_size = 4;
    tag = kTagIpv4;
    port = in4->sin_port;
  } else if (peer->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(peer);
    address = reinterpret_cast<const unsigned char*>(&in6->sin6_addr);
    address_size = 16;
    tag = kTagIpv6;
    port = in6->sin6_port;
    // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; they must keep their member.
    static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(address, kMappedPrefix, sizeof kMappedPrefix) == 0) {
      address += 12;
      address_size = 4;
      tag = kTagIpv4;
    }
  } else {
    return 0;
  }
  unsigned char key[18];
  std::memcpy(key, address, address_size);
  size_t key_size = address_size;
  if (with_port) {
    std::memcpy(key + key_size, &port, sizeof port);
    key_size += sizeof port;
    tag |= kTagWithPort;
  }
  return hash_bytes(key, key_size, tag);
}

}  // namespace pharos::lb
