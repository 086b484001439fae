// hash_client() and the ring's hash are persistent behaviour: the constants below were computed
// once (and cross-checked by an independent reimplementation) and must never change, or every
// SOURCE_IP client would move to another member when the engine is upgraded.
#include "engine/lb/hash.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <set>

#include "engine/lb/balancer.h"

namespace pharos::lb {
namespace {

sockaddr_in ipv4(const char* text, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, text, &sa.sin_addr), 1) << text;
  return sa;
}

sockaddr_in6 ipv6(const char* text, uint16_t port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET6, text, &sa.sin6_addr), 1) << text;
  return sa;
}

uint64_t hash(const sockaddr_in& sa, bool with_port) {
  return hash_client(reinterpret_cast<const sockaddr*>(&sa), with_port);
}
uint64_t hash(const sockaddr_in6& sa, bool with_port) {
  return hash_client(reinterpret_cast<const sockaddr*>(&sa), with_port);
}

TEST(HashTest, FixedInputsGiveFixedValues) {
  EXPECT_EQ(hash(ipv4("192.0.2.10", 40000), false), 0x79671defca71bcfaULL);
  EXPECT_EQ(hash(ipv4("192.0.2.10", 40000), true), 0x06dba270a21c547cULL);
  EXPECT_EQ(hash(ipv6("2001:db8::1", 443), false), 0x4dd440cda7f24566ULL);
  EXPECT_EQ(hash(ipv6("2001:db8::1", 443), true), 0x9b22811a8f4b1b5eULL);
  EXPECT_EQ(hash_bytes("abc", 3, 0), 0x83c80da3bffe48bbULL);
  EXPECT_EQ(hash_bytes("", 0, 0), 0x48218226ff3cd4bfULL);
  EXPECT_EQ(hash_bytes("0123456789abcdefg", 17, 42), 0xbf908eee1d5c79bfULL);
}

TEST(HashTest, Ipv4AddressOnlyIgnoresPort) {
  EXPECT_EQ(hash(ipv4("198.51.100.7", 1000), false), hash(ipv4("198.51.100.7", 2000), false));
  EXPECT_NE(hash(ipv4("198.51.100.7", 1000), false), hash(ipv4("198.51.100.8", 1000), false));
}

TEST(HashTest, WithPortDistinguishesPorts) {
  EXPECT_NE(hash(ipv4("198.51.100.7", 1000), true), hash(ipv4("198.51.100.7", 1001), true));
  EXPECT_NE(hash(ipv6("2001:db8::7", 1000), true), hash(ipv6("2001:db8::7", 1001), true));
  EXPECT_NE(hash(ipv4("198.51.100.7", 1000), true), hash(ipv4("198.51.100.7", 1000), false));
}

TEST(HashTest, Ipv6AddressOnlyIgnoresPortAndScope) {
  sockaddr_in6 a = ipv6("fe80::1", 80);
  sockaddr_in6 b = ipv6("fe80::1", 8080);
  b.sin6_flowinfo = 12345;
  b.sin6_scope_id = 3;
  EXPECT_EQ(hash(a, false), hash(b, false));
  EXPECT_NE(hash(ipv6("2001:db8::1", 80), false), hash(ipv6("2001:db8::2", 80), false));
  EXPECT_NE(hash(ipv6("2001:db8::1", 80), false), hash(ipv6("2001:db9::1", 80), false));
}

TEST(HashTest, MappedIpv4HashesLikeIpv4) {
  EXPECT_EQ(hash(ipv6("::ffff:192.0.2.10", 40000), false), hash(ipv4("192.0.2.10", 40000), false));
  EXPECT_EQ(hash(ipv6("::ffff:192.0.2.10", 40000), true), hash(ipv4("192.0.2.10", 40000), true));
  // An IPv6 address that merely starts with the IPv4 bytes is another client.
  EXPECT_NE(hash(ipv6("c000:20a::", 40000), false), hash(ipv4("192.0.2.10", 40000), false));
}

TEST(HashTest, UnknownPeersHashToZero) {
  EXPECT_EQ(hash_client(nullptr, false), 0u);
  sockaddr unix_peer{};
  unix_peer.sa_family = AF_UNIX;
  EXPECT_EQ(hash_client(&unix_peer, true), 0u);
}

TEST(HashTest, NeighbouringAddressesSpreadOverAllBits) {
  // 4096 consecutive addresses: no collisions, and the top bits (which place a client on the
  // ring) take many values.
  std::set<uint64_t> all;
  std::set<uint64_t> top_bytes;
  for (uint32_t i = 0; i < 4096; ++i) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x0a000000 + i);
    const uint64_t h = hash(sa, false);
    all.insert(h);
    top_bytes.insert(h >> 56);
  }
  EXPECT_EQ(all.size(), 4096u);
  EXPECT_EQ(top_bytes.size(), 256u);
}

TEST(HashTest, LengthAndSeedMatter) {
  const char zeros[9] = {};
  std::set<uint64_t> seen;
  for (size_t n = 0; n <= 9; ++n) seen.insert(hash_bytes(zeros, n, 0));
  for (uint64_t seed = 1; seed < 10; ++seed) seen.insert(hash_bytes(zeros, 4, seed));
  EXPECT_EQ(seen.size(), 19u);
}

}  // namespace
}  // namespace pharos::lb
