#include "amphora_agent/log_reducer/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace pharos::log_reducer {

size_t LatencyHistogram::bucket_of(uint32_t value) {
  if (value < kSubBuckets) return value;
  const int exponent = std::bit_width(value) - 1;  // >= kSubBucketBits
  const int shift = exponent - kSubBucketBits;
  const uint32_t sub = (value >> shift) & (kSubBuckets - 1);
  return static_cast<size_t>(shift + 1) * kSubBuckets + sub;
}

uint32_t LatencyHistogram::bucket_lower(size_t bucket) {
  if (bucket < kSubBuckets) return static_cast<uint32_t>(bucket);
  const int shift = static_cast<int>(bucket / kSubBuckets) - 1;
  const uint32_t sub = static_cast<uint32_t>(bucket % kSubBuckets);
  return (kSubBuckets + sub) << shift;
}

uint32_t LatencyHistogram::bucket_upper(size_t bucket) {
  if (bucket < kSubBuckets) return static_cast<uint32_t>(bucket);
  const int shift = static_cast<int>(bucket / kSubBuckets) - 1;
  return bucket_lower(bucket) + ((1u << shift) - 1);
}

void LatencyHistogram::add(uint32_t value, uint64_t n) {
  if (n == 0) return;
  if (counts_.empty()) counts_.assign(kBuckets, 0);
  counts_[bucket_of(value)] += n;
  count_ += n;
  sum_ += static_cast<uint64_t>(value) * n;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  if (counts_.empty()) counts_.assign(kBuckets, 0);
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() {
  if (!counts_.empty()) std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  sum_ = 0;
  min_ = UINT32_MAX;
  max_ = 0;
}

size_t LatencyHistogram::nonzero_buckets() const {
  return static_cast<size_t>(
      std::count_if(counts_.begin(), counts_.end(), [](uint64_t c) { return c != 0; }));
}

uint32_t LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint32_t lower = bucket_lower(i);
      const uint32_t mid = lower + (bucket_upper(i) - lower) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

void LatencyHistogram::add_to_bucket(size_t bucket, uint64_t n) {
  if (n == 0 || bucket >= kBuckets) return;
  if (counts_.empty()) counts_.assign(kBuckets, 0);
  counts_[bucket] += n;
  count_ += n;
}

void LatencyHistogram::set_summary(uint64_t sum, uint32_t min, uint32_t max) {
  sum_ = sum;
  min_ = min;
  max_ = max;
}

size_t LatencyHistogram::memory_bytes() const {
  return sizeof(*this) + counts_.capacity() * sizeof(uint64_t);
}

}  // namespace pharos::log_reducer
