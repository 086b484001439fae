#include "amphora_agent/log_reducer/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace pharos::log_reducer {
namespace {

uint64_t next(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
double uniform(uint64_t* s) { return (next(s) >> 11) * 0x1.0p-53; }

TEST(LatencyHistogram, BucketsTileTheU32Range) {
  EXPECT_EQ(LatencyHistogram::bucket_lower(0), 0u);
  for (size_t b = 0; b + 1 < LatencyHistogram::kBuckets; ++b) {
    EXPECT_EQ(LatencyHistogram::bucket_upper(b) + 1, LatencyHistogram::bucket_lower(b + 1)) << b;
    const double width = LatencyHistogram::bucket_upper(b) - LatencyHistogram::bucket_lower(b);
    EXPECT_LE(width, LatencyHistogram::bucket_lower(b) / 32.0) << b;
  }
  EXPECT_EQ(LatencyHistogram::bucket_upper(LatencyHistogram::kBuckets - 1), UINT32_MAX);
  for (uint32_t v : {0u, 1u, 31u, 32u, 33u, 63u, 64u, 1000u, 123456u, 1u << 31, UINT32_MAX}) {
    const size_t b = LatencyHistogram::bucket_of(v);
    EXPECT_LE(LatencyHistogram::bucket_lower(b), v);
    EXPECT_GE(LatencyHistogram::bucket_upper(b), v);
  }
}

// Long-tailed samples: log-normal plus a Pareto tail, as the proxy sees them.
std::vector<uint32_t> long_tail(size_t n, uint64_t seed) {
  std::vector<uint32_t> v;
  for (size_t i = 0; i < n; ++i) {
    const double u1 = std::max(uniform(&seed), 1e-12), u2 = uniform(&seed);
    const double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    double x = 20'000 * std::exp(0.9 * z);
    if (uniform(&seed) < 0.01) x = 300'000 / std::pow(std::max(uniform(&seed), 1e-9), 1 / 1.3);
    v.push_back(static_cast<uint32_t>(std::min(x, 4.0e9)));
  }
  return v;
}

void expect_quantiles_within_bound(const LatencyHistogram& h, std::vector<uint32_t> values) {
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0}) {
    const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * values.size())));
    const double exact = values[rank - 1];
    const double estimate = h.quantile(q);
    EXPECT_LE(std::abs(estimate - exact), exact * LatencyHistogram::kMaxRelativeError + 1)
        << "q=" << q << " exact=" << exact << " estimate=" << estimate;
  }
}

TEST(LatencyHistogram, QuantilesWithinRelativeErrorOfExact) {
  const auto values = long_tail(200'000, 7);
  LatencyHistogram h;
  for (uint32_t v : values) h.add(v);
  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.min(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
  expect_quantiles_within_bound(h, values);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint32_t v = 0; v < 32; ++v) h.add(v);
  for (uint32_t v = 0; v < 32; ++v) EXPECT_EQ(h.quantile((v + 1) / 32.0), v);
}

TEST(LatencyHistogram, MergeEqualsAddingEverything) {
  const auto a = long_tail(50'000, 1), b = long_tail(30'000, 2);
  LatencyHistogram ha, hb, all;
  for (uint32_t v : a) ha.add(v), all.add(v);
  for (uint32_t v : b) hb.add(v), all.add(v);
  ha.merge(hb);
  EXPECT_EQ(ha.count(), all.count());
  EXPECT_EQ(ha.sum(), all.sum());
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    ASSERT_EQ(ha.bucket_count(i), all.bucket_count(i));
  }
  std::vector<uint32_t> both = a;
  both.insert(both.end(), b.begin(), b.end());
  expect_quantiles_within_bound(ha, both);
}

TEST(LatencyHistogram, EmptyAndFixedMemory) {
  LatencyHistogram h;
  EXPECT_EQ(h.quantile(0.5), 0u);
  EXPECT_EQ(h.min(), 0u);
  h.add(5);
  const size_t bytes = h.memory_bytes();
  for (uint32_t v : long_tail(10'000, 3)) h.add(v);
  EXPECT_EQ(h.memory_bytes(), bytes);
  EXPECT_LE(bytes, sizeof(LatencyHistogram) + LatencyHistogram::kBuckets * sizeof(uint64_t));
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.quantile(0.99), 0u);
}

}  // namespace
}  // namespace pharos::log_reducer
