#include "engine/records/record_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace pharos::records {
namespace {

TransactionRecord sample(int i = 0) {
  TransactionRecord r;
  r.kind = RecordKind::kHttp;
  r.termination = Termination::kMemberTimeout;
  r.status = 504;
  r.client_port = 54321;
  r.retries = 2;
  r.start_unix_us = 1'700'000'000'123'456ULL + i;
  r.client_rtt_us = 1234;
  r.connect_us = 567;
  r.ttfb_us = 0xFFFFFFFFu;
  r.transfer_us = 89;
  r.total_us = 4'000'000'000u;
  r.bytes_in = 0x0102030405060708ULL;
  r.bytes_out = 987654321;
  r.listener_id = "8a1c1b6e-8d3a-4f57-9d44-2a1f0c0e9b01";
  r.pool_id = "c3f9d2a4-5b6e-4c7d-8e9f-0a1b2c3d4e5f";
  r.member_id = "11111111-2222-3333-4444-555555555555";
  r.client_address = "2001:db8::1";
  r.method = "GET";
  r.host = "www.example.com";
  r.path = "/api/v1/items/" + std::to_string(i) + "?q=x";
  r.user_agent = "curl/7.88.1";
  r.sni = "www.example.com";
  r.tls = true;
  r.http2 = (i % 2) == 1;
  return r;
}

bool same(const TransactionRecord& a, const TransactionRecord& b) {
  return a.kind == b.kind && a.termination == b.termination && a.status == b.status &&
         a.client_port == b.client_port && a.retries == b.retries &&
         a.start_unix_us == b.start_unix_us && a.client_rtt_us == b.client_rtt_us &&
         a.connect_us == b.connect_us && a.ttfb_us == b.ttfb_us &&
         a.transfer_us == b.transfer_us && a.total_us == b.total_us &&
         a.bytes_in == b.bytes_in && a.bytes_out == b.bytes_out &&
         a.listener_id == b.listener_id && a.pool_id == b.pool_id &&
         a.member_id == b.member_id && a.client_address == b.client_address &&
         a.method == b.method && a.host == b.host && a.path == b.path &&
         a.user_agent == b.user_agent && a.sni == b.sni && a.tls == b.tls && a.http2 == b.http2;
}

TEST(RecordCodec, RoundTrip) {
  const TransactionRecord in = sample();
  std::string wire = "prefix";
  const size_t n = encode(in, &wire);
  ASSERT_EQ(wire.size(), 6 + n);
  EXPECT_EQ(n, encoded_size(in));
  TransactionRecord out;
  bool truncated = true;
  const DecodeResult result = decode(std::string_view(wire).substr(6), &out, &truncated);
  ASSERT_EQ(result.error, DecodeError::kOk);
  EXPECT_EQ(result.consumed, n);
  EXPECT_FALSE(truncated);
  EXPECT_TRUE(same(in, out));
}

TEST(RecordCodec, TlsAndHttp2AreFlagBits) {
  for (int i : {0, 1}) {
    const TransactionRecord in = sample(i);
    std::string wire;
    encode(in, &wire);
    EXPECT_EQ(static_cast<uint8_t>(wire[11]), kFlagTls | (i == 1 ? kFlagHttp2 : 0));
    TransactionRecord out;
    ASSERT_EQ(decode(wire, &out).error, DecodeError::kOk);
    EXPECT_TRUE(out.tls);
    EXPECT_EQ(out.http2, i == 1);
  }
}

TEST(RecordCodec, RoundTripEmptyTcpRecord) {
  TransactionRecord in;
  in.kind = RecordKind::kTcp;
  std::string wire;
  EXPECT_EQ(encode(in, &wire), kMinRecordBytes);
  TransactionRecord out = sample();  // stale strings must be overwritten
  ASSERT_EQ(decode(wire, &out).error, DecodeError::kOk);
  EXPECT_TRUE(same(in, out));
}

TEST(RecordCodec, LittleEndianHeaderLayout) {
  std::string wire;
  const size_t n = encode(sample(), &wire);
  EXPECT_EQ(static_cast<uint8_t>(wire[0]), kRecordMagic);
  EXPECT_EQ(static_cast<uint8_t>(wire[1]), kRecordVersion);
  EXPECT_EQ(static_cast<uint8_t>(wire[2]) | (static_cast<uint8_t>(wire[3]) << 8), n);
  // bytes_in sits at offset 4 + 36 and is stored least significant byte first.
  EXPECT_EQ(static_cast<uint8_t>(wire[40]), 0x08);
  EXPECT_EQ(static_cast<uint8_t>(wire[47]), 0x01);
}

TEST(RecordCodec, TruncationAtEveryByteIsAnError) {
  std::string wire;
  encode(sample(), &wire);
  TransactionRecord out;
  for (size_t cut = 0; cut < wire.size(); ++cut) {
    const DecodeResult result = decode(std::string_view(wire.data(), cut), &out);
    EXPECT_EQ(result.error, DecodeError::kTruncated) << "cut at " << cut;
    EXPECT_EQ(result.consumed, 0u);
  }
}

TEST(RecordCodec, BadMagicAndVersion) {
  std::string wire;
  encode(sample(), &wire);
  TransactionRecord out;
  std::string bad = wire;
  bad[0] = 0x00;
  EXPECT_EQ(decode(bad, &out).error, DecodeError::kBadMagic);
  EXPECT_EQ(decode(bad.substr(0, 1), &out).error, DecodeError::kBadMagic);
  bad = wire;
  bad[1] = 2;
  EXPECT_EQ(decode(bad, &out).error, DecodeError::kUnsupportedVersion);
}

TEST(RecordCodec, CorruptRecordLength) {
  std::string wire;
  const size_t n = encode(sample(), &wire);
  TransactionRecord out;
  for (size_t length : {size_t{0}, size_t{4}, kMinRecordBytes - 1}) {
    std::string bad = wire;
    bad[2] = static_cast<char>(length & 0xFF);
    bad[3] = static_cast<char>(length >> 8);
    EXPECT_EQ(decode(bad, &out).error, DecodeError::kBadLength) << length;
  }
  // A length that claims fewer bytes than the strings need: strings overrun the record.
  for (size_t length = kMinRecordBytes; length < n; ++length) {
    std::string bad = wire;
    bad[2] = static_cast<char>(length & 0xFF);
    bad[3] = static_cast<char>(length >> 8);
    EXPECT_EQ(decode(bad, &out).error, DecodeError::kBadLength) << length;
  }
  // A length beyond the buffer is a truncation.
  std::string bad = wire;
  bad[2] = static_cast<char>(0xFF);
  bad[3] = static_cast<char>(0xFF);
  EXPECT_EQ(decode(bad, &out).error, DecodeError::kTruncated);
}

TEST(RecordCodec, CorruptStringLengths) {
  std::string wire;
  encode(sample(), &wire);
  TransactionRecord out;
  const size_t first_string = kHeaderBytes + kFixedBytes;
  // Above the listener_id cap.
  std::string bad = wire;
  bad[first_string] = static_cast<char>(StringCaps::kListenerId + 1);
  EXPECT_EQ(decode(bad, &out).error, DecodeError::kStringTooLong);
  // Within the cap but past the end of the record: the last string (sni) claims one byte more.
  bad = wire;
  const size_t sni_prefix = wire.size() - sample().sni.size() - 2;
  bad[sni_prefix] = static_cast<char>(sample().sni.size() + 1);
  EXPECT_EQ(decode(bad, &out).error, DecodeError::kBadLength);
  // A misaligned walk (listener_id grown within its cap) must fail, never read past the end.
  bad = wire;
  bad[first_string] = 60;
  EXPECT_NE(decode(bad, &out).error, DecodeError::kOk);
}

TEST(RecordCodec, BadEnums) {
  std::string wire;
  encode(sample(), &wire);
  TransactionRecord out;
  std::string bad = wire;
  bad[4] = 3;  // kind
  EXPECT_EQ(decode(bad, &out).error, DecodeError::kBadEnum);
  bad = wire;
  bad[5] = 11;  // termination
  EXPECT_EQ(decode(bad, &out).error, DecodeError::kBadEnum);
}

TEST(RecordCodec, RandomCorruptionNeverCrashes) {
  std::string wire;
  encode(sample(), &wire);
  TransactionRecord out;
  uint64_t state = 42;
  for (int i = 0; i < 20000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    std::string bad = wire;
    bad[(state >> 33) % bad.size()] ^= static_cast<char>(1 + ((state >> 20) % 255));
    const DecodeResult result = decode(bad, &out);
    if (result.error == DecodeError::kOk) {
      EXPECT_LE(result.consumed, bad.size());
    }
  }
}

TEST(RecordCodec, StringCapsCutAndFlag) {
  TransactionRecord in = sample();
  in.path = "/" + std::string(5000, 'a');
  in.user_agent = std::string(300, 'u');
  in.host = std::string(1000, 'h');
  in.sni = std::string(257, 's');
  in.listener_id = std::string(65, 'l');
  in.method = std::string(40, 'M');
  std::string wire;
  const size_t n = encode(in, &wire);
  EXPECT_LE(n, kMaxRecordBytes);
  TransactionRecord out;
  bool truncated = false;
  ASSERT_EQ(decode(wire, &out, &truncated).error, DecodeError::kOk);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(out.path, in.path.substr(0, StringCaps::kPath));
  EXPECT_EQ(out.user_agent.size(), StringCaps::kUserAgent);
  EXPECT_EQ(out.host.size(), StringCaps::kHost);
  EXPECT_EQ(out.sni.size(), StringCaps::kSni);
  EXPECT_EQ(out.listener_id.size(), StringCaps::kListenerId);
  EXPECT_EQ(out.method.size(), StringCaps::kMethod);
}

TEST(RecordCodec, MaximalRecordFitsItsHeader) {
  TransactionRecord in = sample();
  for (std::string* s : {&in.listener_id, &in.pool_id, &in.member_id, &in.client_address,
                         &in.method, &in.host, &in.path, &in.user_agent, &in.sni}) {
    *s = std::string(70000, 'x');
  }
  std::string wire;
  EXPECT_EQ(encode(in, &wire), kMaxRecordBytes);
  TransactionRecord out;
  EXPECT_EQ(decode(wire, &out).consumed, kMaxRecordBytes);
}

TEST(RecordCodec, CapDoesNotSplitUtf8) {
  TransactionRecord in = sample();
  // 1023 ASCII bytes then a 3-byte character straddling the 1024-byte cap.
  in.path = std::string(1023, 'p') + "\xE2\x82\xAC" + "tail";
  std::string wire;
  encode(in, &wire);
  TransactionRecord out;
  ASSERT_EQ(decode(wire, &out).error, DecodeError::kOk);
  EXPECT_EQ(out.path, std::string(1023, 'p'));
  // Non-UTF-8 bytes are opaque and cut exactly at the cap.
  in.path = std::string(2000, '\x80');
  wire.clear();
  encode(in, &wire);
  ASSERT_EQ(decode(wire, &out).error, DecodeError::kOk);
  EXPECT_EQ(out.path.size(), StringCaps::kPath);
}

TEST(RecordCodec, BatchRoundTrip) {
  BatchWriter writer(kMaxDatagramBytes);
  std::vector<TransactionRecord> sent;
  for (int i = 0;; ++i) {
    TransactionRecord r = sample(i);
    if (!writer.add(r)) break;
    sent.push_back(r);
  }
  EXPECT_GT(sent.size(), 100u);
  EXPECT_LE(writer.datagram().size(), kMaxDatagramBytes);
  std::vector<TransactionRecord> got;
  ASSERT_EQ(decode_batch(writer.datagram(), &got), DecodeError::kOk);
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(same(sent[i], got[i])) << i;
  writer.clear();
  EXPECT_TRUE(writer.empty());
  EXPECT_TRUE(writer.datagram().empty());
}

TEST(RecordCodec, BatchStopsAtCorruptRecordKeepingEarlierOnes) {
  std::string datagram;
  std::vector<size_t> offsets;
  for (int i = 0; i < 5; ++i) {
    offsets.push_back(datagram.size());
    encode(sample(i), &datagram);
  }
  std::string bad = datagram;
  bad[offsets[3]] = 0x00;  // magic of the fourth record
  std::vector<TransactionRecord> got;
  EXPECT_EQ(decode_batch(bad, &got), DecodeError::kBadMagic);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(same(got[2], sample(2)));

  // Truncated datagram: every cut point yields the whole records before it, then kTruncated.
  for (size_t cut = 1; cut < datagram.size(); ++cut) {
    BatchReader reader(std::string_view(datagram.data(), cut));
    TransactionRecord r;
    size_t n = 0;
    while (reader.next(&r)) ++n;
    if (std::find(offsets.begin(), offsets.end(), cut) != offsets.end()) {
      EXPECT_EQ(reader.error(), DecodeError::kOk) << cut;
    } else {
      EXPECT_EQ(reader.error(), DecodeError::kTruncated) << cut;
    }
    EXPECT_EQ(n, reader.records());
  }
}

TEST(RecordCodec, EmptyBatch) {
  std::vector<TransactionRecord> got;
  EXPECT_EQ(decode_batch({}, &got), DecodeError::kOk);
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace pharos::records
