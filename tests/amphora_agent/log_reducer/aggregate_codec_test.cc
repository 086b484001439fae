#include "amphora_agent/log_reducer/aggregate_codec.h"

#include <gtest/gtest.h>

namespace pharos::log_reducer {
namespace {

Aggregate sample() {
  Aggregate a;
  a.key.interval_start_us = 1'700'000'040'000'000ULL;
  a.key.listener_id = "8a1c1b6e-8d3a-4f57-9d44-2a1f0c0e9b01";
  a.key.pool_id = "c3f9d2a4-5b6e-4c7d-8e9f-0a1b2c3d4e5f";
  a.key.member_id = "11111111-2222-3333-4444-555555555555";
  a.key.status_class = StatusClass::k2xx;
  a.key.method = "GET";
  a.interval_us = 60'000'000;
  for (uint32_t i = 1; i <= 5000; ++i) {
    ++a.count;
    a.bytes_in += 400 + i;
    a.bytes_out += 10'000 + 7 * i;
    a.total_us.add(1000 + i * i % 900'000);
    a.ttfb_us.add(800 + i * 13 % 200'000);
  }
  return a;
}

TEST(AggregateCodec, RoundTrip) {
  const Aggregate in = sample();
  std::string wire;
  const size_t n = encode_aggregate(in, &wire);
  EXPECT_EQ(n, wire.size());
  Aggregate out;
  size_t consumed = 0;
  ASSERT_EQ(decode_aggregate(wire, &out, &consumed), AggregateDecodeError::kOk);
  EXPECT_EQ(consumed, n);
  EXPECT_EQ(out.key.interval_start_us, in.key.interval_start_us);
  EXPECT_EQ(out.key.listener_id, in.key.listener_id);
  EXPECT_EQ(out.key.pool_id, in.key.pool_id);
  EXPECT_EQ(out.key.member_id, in.key.member_id);
  EXPECT_EQ(out.key.status_class, in.key.status_class);
  EXPECT_EQ(out.key.method, in.key.method);
  EXPECT_EQ(out.interval_us, in.interval_us);
  EXPECT_EQ(out.count, in.count);
  EXPECT_EQ(out.bytes_in, in.bytes_in);
  EXPECT_EQ(out.bytes_out, in.bytes_out);
  for (auto [a, b] : {std::pair{&in.total_us, &out.total_us}, {&in.ttfb_us, &out.ttfb_us}}) {
    EXPECT_EQ(a->count(), b->count());
    EXPECT_EQ(a->sum(), b->sum());
    EXPECT_EQ(a->min(), b->min());
    EXPECT_EQ(a->max(), b->max());
    for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
      ASSERT_EQ(a->bucket_count(i), b->bucket_count(i));
    }
  }
}

TEST(AggregateCodec, EmptyHistogramsRoundTrip) {
  Aggregate in;
  in.key.method = "";
  std::string wire;
  encode_aggregate(in, &wire);
  Aggregate out;
  size_t consumed;
  ASSERT_EQ(decode_aggregate(wire, &out, &consumed), AggregateDecodeError::kOk);
  EXPECT_EQ(out.total_us.count(), 0u);
}

TEST(AggregateCodec, TruncationAndCorruptionAreErrors) {
  std::string wire;
  encode_aggregate(sample(), &wire);
  Aggregate out;
  size_t consumed;
  for (size_t cut = 0; cut < wire.size(); ++cut) {
    EXPECT_NE(decode_aggregate(std::string_view(wire.data(), cut), &out, &consumed),
              AggregateDecodeError::kOk)
        << cut;
  }
  std::string bad = wire;
  bad[0] = 0;
  EXPECT_EQ(decode_aggregate(bad, &out, &consumed), AggregateDecodeError::kBadMagic);
  bad = wire;
  bad[1] = 9;
  EXPECT_EQ(decode_aggregate(bad, &out, &consumed), AggregateDecodeError::kUnsupportedVersion);
  uint64_t state = 3;
  for (int i = 0; i < 20000; ++i) {  // must never crash or read out of bounds
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    bad = wire;
    bad[(state >> 33) % bad.size()] ^= static_cast<char>(1 + (state >> 20) % 255);
    decode_aggregate(bad, &out, &consumed);
  }
}

TEST(AggregateCodec, UuidsTravelAsSixteenBytesOthersVerbatim) {
  Aggregate in;
  in.key.listener_id = "8a1c1b6e-8d3a-4f57-9d44-2a1f0c0e9b01";  // compacted
  in.key.pool_id = "8A1C1B6E-8D3A-4F57-9D44-2A1F0C0E9B01";      // upper case: verbatim
  in.key.member_id = "not-a-uuid";
  in.key.method = "GET";
  std::string wire;
  const size_t n = encode_aggregate(in, &wire);
  Aggregate out;
  size_t consumed;
  ASSERT_EQ(decode_aggregate(wire, &out, &consumed), AggregateDecodeError::kOk);
  EXPECT_EQ(consumed, n);
  EXPECT_EQ(out.key.listener_id, in.key.listener_id);
  EXPECT_EQ(out.key.pool_id, in.key.pool_id);
  EXPECT_EQ(out.key.member_id, in.key.member_id);
  in.key.pool_id = "x";
  wire.clear();
  EXPECT_EQ(encode_aggregate(in, &wire), n - 35);
}

TEST(AggregateCodec, CompactForATypicalKey) {
  std::string wire;
  encode_aggregate(sample(), &wire);
  // Key strings (~115 bytes) plus two sparse histograms; far below the raw records it folds.
  EXPECT_LT(wire.size(), 3000u);
}

}  // namespace
}  // namespace pharos::log_reducer
