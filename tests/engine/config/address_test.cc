#include "engine/config/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include <gtest/gtest.h>

namespace pharos::config {
namespace {

sockaddr_storage v4_peer(const char* text) {
  sockaddr_storage storage{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
  sin->sin_family = AF_INET;
  EXPECT_EQ(inet_pton(AF_INET, text, &sin->sin_addr), 1) << text;
  return storage;
}

sockaddr_storage v6_peer(const char* text) {
  sockaddr_storage storage{};
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
  sin6->sin6_family = AF_INET6;
  EXPECT_EQ(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1) << text;
  return storage;
}

bool contains(const char* cidr, const sockaddr_storage& peer) {
  auto block = Cidr::parse(cidr);
  EXPECT_TRUE(block) << cidr;
  return block && block->contains(reinterpret_cast<const sockaddr*>(&peer));
}

TEST(IpAddress, ParsesIpv4) {
  auto a = IpAddress::parse("192.0.2.10");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family, AF_INET);
  EXPECT_EQ(a->bytes[0], 192);
  EXPECT_EQ(a->bytes[3], 10);
  EXPECT_EQ(a->text, "192.0.2.10");
}

TEST(IpAddress, ParsesIpv6) {
  auto a = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family, AF_INET6);
  EXPECT_EQ(a->bytes[0], 0x20);
  EXPECT_EQ(a->bytes[1], 0x01);
  EXPECT_EQ(a->bytes[15], 1);
  EXPECT_TRUE(IpAddress::parse("::"));
  EXPECT_TRUE(IpAddress::parse("::ffff:192.0.2.1"));
}

TEST(IpAddress, EqualityIgnoresSpelling) {
  EXPECT_EQ(*IpAddress::parse("::1"), *IpAddress::parse("0:0::0001"));
  EXPECT_FALSE(*IpAddress::parse("127.0.0.1") == *IpAddress::parse("::ffff:127.0.0.1"));
}

TEST(IpAddress, RejectsNonLiterals) {
  for (const char* text : {"", "localhost", "10.0.0.256", "10.0.0", "1.2.3.4.5", "[::1]",
                           "::1%eth0", "1:2:3", "10.0.0.1/8", " 10.0.0.1", "gggg::1"}) {
    EXPECT_FALSE(IpAddress::parse(text)) << text;
  }
}

TEST(IpAddress, ToSockaddr) {
  sockaddr_storage storage;
  auto v4 = IpAddress::parse("127.0.0.1");
  ASSERT_EQ(v4->to_sockaddr(18480, &storage), sizeof(sockaddr_in));
  auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
  EXPECT_EQ(sin->sin_family, AF_INET);
  EXPECT_EQ(ntohs(sin->sin_port), 18480);
  EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0x7f000001u);

  auto v6 = IpAddress::parse("::1");
  ASSERT_EQ(v6->to_sockaddr(443, &storage), sizeof(sockaddr_in6));
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
  EXPECT_EQ(sin6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sin6->sin6_port), 443);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
}

TEST(Cidr, Parses) {
  auto c = Cidr::parse("10.0.0.0/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->network.family, AF_INET);
  EXPECT_EQ(c->prefix_len, 8);
  EXPECT_EQ(Cidr::parse("192.0.2.7")->prefix_len, 32);
  EXPECT_EQ(Cidr::parse("2001:db8::/32")->prefix_len, 32);
  EXPECT_EQ(Cidr::parse("::1")->prefix_len, 128);
  EXPECT_EQ(Cidr::parse("0.0.0.0/0")->prefix_len, 0);
}

TEST(Cidr, RejectsInvalid) {
  for (const char* text :
       {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8/8",
        "10.0.0.0/0008", "10.0.0.0/8 ", "any", "10.0.0/8", "10.0.0.0/x"}) {
    EXPECT_FALSE(Cidr::parse(text)) << text;
  }
}

TEST(Cidr, ContainsIpv4) {
  EXPECT_TRUE(contains("10.0.0.0/8", v4_peer("10.255.1.2")));
  EXPECT_FALSE(contains("10.0.0.0/8", v4_peer("11.0.0.1")));
  EXPECT_TRUE(contains("192.0.2.7", v4_peer("192.0.2.7")));
  EXPECT_FALSE(contains("192.0.2.7", v4_peer("192.0.2.8")));
  EXPECT_TRUE(contains("0.0.0.0/0", v4_peer("203.0.113.9")));
  // A prefix that ends inside a byte.
  EXPECT_TRUE(contains("192.0.2.64/26", v4_peer("192.0.2.127")));
  EXPECT_FALSE(contains("192.0.2.64/26", v4_peer("192.0.2.128")));
  EXPECT_FALSE(contains("192.0.2.64/26", v4_peer("192.0.2.63")));
}

TEST(Cidr, ContainsIpv6) {
  EXPECT_TRUE(contains("2001:db8::/32", v6_peer("2001:db8:ffff::1")));
  EXPECT_FALSE(contains("2001:db8::/32", v6_peer("2001:db9::1")));
  EXPECT_TRUE(contains("::/0", v6_peer("fe80::1")));
  EXPECT_TRUE(contains("2001:db8::/33", v6_peer("2001:db8:7fff::1")));
  EXPECT_FALSE(contains("2001:db8::/33", v6_peer("2001:db8:8000::1")));
}

TEST(Cidr, FamiliesDoNotMix) {
  EXPECT_FALSE(contains("::/0", v4_peer("10.0.0.1")));
  EXPECT_FALSE(contains("0.0.0.0/0", v6_peer("2001:db8::1")));
}

TEST(Cidr, V4MappedPeersMatchIpv4Blocks) {
  // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
  EXPECT_TRUE(contains("10.0.0.0/8", v6_peer("::ffff:10.1.2.3")));
  EXPECT_FALSE(contains("10.0.0.0/8", v6_peer("::ffff:11.1.2.3")));
  EXPECT_TRUE(contains("192.0.2.7", v6_peer("::ffff:192.0.2.7")));
  EXPECT_TRUE(contains("0.0.0.0/0", v6_peer("::ffff:203.0.113.1")));
}

TEST(Cidr, UnknownPeerFamilyNeverMatches) {
  sockaddr_storage storage{};
  storage.ss_family = AF_UNIX;
  EXPECT_FALSE(Cidr::parse("0.0.0.0/0")->contains(reinterpret_cast<const sockaddr*>(&storage)));
}

}  // namespace
}  // namespace pharos::config
