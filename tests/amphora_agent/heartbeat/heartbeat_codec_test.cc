#include "amphora_agent/heartbeat/heartbeat_codec.h"
#include "amphora_agent/heartbeat/heartbeat_sender.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pharos::heartbeat {
namespace {

constexpr uint64_t kNow = 1'700'000'000'000;

HeartbeatPayload sample() {
  HeartbeatPayload p;
  p.seq = 42;
  p.timestamp_ms = kNow;
  p.amphora_id = "a5e6a0d2-1b7f-4c0e-9a7c-3f0e5c1d2b4a";
  p.config_version = 7;
  p.engine_up = true;
  p.engine_restarts = 2;
  p.listeners["l1"] = {100, 200, 3, 40, 1};
  p.members["m1"] = "ONLINE";
  p.members["m2"] = "ERROR";
  p.listener_quality["l1"] = {1000, 0.01, 1.5, 9.25, 30.0};
  p.pool_quality["p1"] = {990, 0.02, 2.0, 10.0, 31.5};
  p.resources = {12.5, 64 << 20, 3};
  return p;
}

DecodeOptions at_now() {
  DecodeOptions o;
  o.now_ms = kNow + 1000;
  return o;
}

TEST(HeartbeatCodec, RoundTrip) {
  const auto encoded = encode(sample(), "secret");
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded.datagram.substr(0, 3), "PHB");
  EXPECT_EQ(encoded.datagram[3], 1);
  const auto decoded = decode_and_verify(encoded.datagram, "secret", 41, at_now());
  ASSERT_EQ(decoded.error, HeartbeatError::kOk) << to_string(decoded.error);
  EXPECT_EQ(decoded.payload, sample());
}

TEST(HeartbeatCodec, EmptyMapsRoundTrip) {
  HeartbeatPayload p;
  p.seq = 1;
  p.timestamp_ms = kNow;
  p.amphora_id = "x";
  const auto decoded = decode_and_verify(encode(p, "k").datagram, "k", 0, at_now());
  ASSERT_TRUE(decoded.ok()) << to_string(decoded.error);
  EXPECT_EQ(decoded.payload, p);
}

TEST(HeartbeatCodec, EveryTamperedByteFails) {
  const std::string good = encode(sample(), "secret").datagram;
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    const auto decoded = decode_and_verify(bad, "secret", 0, at_now());
    EXPECT_FALSE(decoded.ok()) << "byte " << i;
    if (i >= 4) {
      EXPECT_EQ(decoded.error, HeartbeatError::kBadSignature) << "byte " << i;
    }
  }
}

TEST(HeartbeatCodec, WrongKeyFails) {
  const auto encoded = encode(sample(), "secret");
  EXPECT_EQ(decode_and_verify(encoded.datagram, "Secret", 0, at_now()).error,
            HeartbeatError::kBadSignature);
  EXPECT_EQ(decode_and_verify(encoded.datagram, "", 0, at_now()).error,
            HeartbeatError::kBadSignature);
}

TEST(HeartbeatCodec, ReplayedSeqFails) {
  const auto encoded = encode(sample(), "secret");
  EXPECT_EQ(decode_and_verify(encoded.datagram, "secret", 42, at_now()).error,
            HeartbeatError::kReplay);
  EXPECT_EQ(decode_and_verify(encoded.datagram, "secret", 100, at_now()).error,
            HeartbeatError::kReplay);
}

TEST(HeartbeatCodec, StaleOrFutureTimestampFails) {
  const auto encoded = encode(sample(), "secret");
  DecodeOptions late;
  late.now_ms = kNow + 121'000;
  EXPECT_EQ(decode_and_verify(encoded.datagram, "secret", 0, late).error, HeartbeatError::kReplay);
  DecodeOptions early;
  early.now_ms = kNow - 121'000;
  EXPECT_EQ(decode_and_verify(encoded.datagram, "secret", 0, early).error,
            HeartbeatError::kReplay);
}

TEST(HeartbeatCodec, WrongVersionAndMalformed) {
  std::string d = encode(sample(), "secret").datagram;
  d[3] = 2;
  EXPECT_EQ(decode_and_verify(d, "secret", 0, at_now()).error, HeartbeatError::kWrongVersion);
  EXPECT_EQ(decode_and_verify("PHB", "secret", 0, at_now()).error, HeartbeatError::kMalformed);
  EXPECT_EQ(decode_and_verify("", "secret", 0, at_now()).error, HeartbeatError::kMalformed);
  EXPECT_EQ(decode_and_verify(std::string(100, 'x'), "secret", 0, at_now()).error,
            HeartbeatError::kMalformed);
}

std::string sign(const std::string& body, const std::string& key) {
  std::string d = std::string("PHB\x01", 4) + body;
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(d.data()), d.size(), mac, &len);
  return d + std::string(reinterpret_cast<const char*>(mac), len);
}

TEST(HeartbeatCodec, SignedButIllTypedIsMalformed) {
  const std::string d = encode(sample(), "secret").datagram;
  const std::string body = d.substr(4, d.size() - 4 - kMacBytes);
  // The codec's own bytes re-signed by hand verify: the test's signer matches the spec.
  EXPECT_TRUE(decode_and_verify(sign(body, "secret"), "secret", 0, at_now()).ok());
  std::string wrong_type = body;
  wrong_type.replace(wrong_type.find("\"seq\":42"), 8, "\"seq\":\"42\"");
  EXPECT_EQ(decode_and_verify(sign(wrong_type, "secret"), "secret", 0, at_now()).error,
            HeartbeatError::kMalformed);
  EXPECT_EQ(decode_and_verify(sign("{not json", "secret"), "secret", 0, at_now()).error,
            HeartbeatError::kMalformed);
  EXPECT_EQ(decode_and_verify(sign("[]", "secret"), "secret", 0, at_now()).error,
            HeartbeatError::kMalformed);
  std::string negative = body;
  negative.replace(negative.find("\"seq\":42"), 8, "\"seq\":-4");
  EXPECT_EQ(decode_and_verify(sign(negative, "secret"), "secret", 0, at_now()).error,
            HeartbeatError::kMalformed);
}

TEST(HeartbeatSender, DeliversToLocalReceiver) {
  const int rx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(rx, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(rx, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  timeval tv{5, 0};
  ::setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  HeartbeatSender sender;
  ASSERT_EQ(sender.open({{"127.0.0.1", ntohs(addr.sin_port)}}), "");
  const std::string d = encode(sample(), "k").datagram;
  EXPECT_EQ(sender.send(d), 1u);
  std::string buf(kMaxDatagramBytes, '\0');
  const ssize_t n = ::recv(rx, buf.data(), buf.size(), 0);
  ASSERT_GT(n, 0);
  buf.resize(static_cast<size_t>(n));
  EXPECT_TRUE(decode_and_verify(buf, "k", 0, at_now()).ok());
  ::close(rx);
}

TEST(HeartbeatTarget, Parse) {
  auto t = parse_target("192.0.2.1:5555");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "192.0.2.1");
  EXPECT_EQ(t->port, 5555);
  t = parse_target("[2001:db8::1]:5555");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "2001:db8::1");
  EXPECT_FALSE(parse_target("2001:db8::1:5555"));
  EXPECT_FALSE(parse_target("host:0"));
  EXPECT_FALSE(parse_target("host:65536"));
  EXPECT_FALSE(parse_target("host"));
  EXPECT_FALSE(parse_target(":80"));
}

}  // namespace
}  // namespace pharos::heartbeat
