// Log-linear latency histogram: fixed memory, mergeable, bounded relative error.
//
// Values (microseconds, u32) below 32 get one bucket each; above, every power of two
// [2^e, 2^(e+1)) is split into 32 equal buckets. A bucket is at most 1/32 of its lower bound
// wide, and quantile() answers its midpoint clamped to the observed min/max, so an answer is
// within 1/64 (1.6%) of the exact nearest-rank value. 896 buckets cover the whole u32 range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pharos::log_reducer {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 5;
  static constexpr uint32_t kSubBuckets = 1u << kSubBucketBits;  // 32
  static constexpr size_t kBuckets = (32 - kSubBucketBits + 1) * kSubBuckets;  // 896
  // Bound on |quantile() - exact| / exact for any value.
  static constexpr double kMaxRelativeError = 1.0 / (2 * kSubBuckets);

  static size_t bucket_of(uint32_t value);
  static uint32_t bucket_lower(size_t bucket);
  static uint32_t bucket_upper(size_t bucket);  // inclusive

  void add(uint32_t value) { add(value, 1); }
  void add(uint32_t value, uint64_t n);
  // Adds every sample of `other`; histograms of any keys or intervals merge exactly.
  void merge(const LatencyHistogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint32_t min() const { return count_ ? min_ : 0; }
  uint32_t max() const { return max_; }
  uint64_t bucket_count(size_t bucket) const { return counts_.empty() ? 0 : counts_[bucket]; }
  size_t nonzero_buckets() const;

  // Nearest-rank quantile, q in [0, 1]: an estimate of the ceil(q*count)-th smallest sample,
  // within kMaxRelativeError of it. 0 when empty.
  uint32_t quantile(double q) const;

  // For decoders rebuilding a serialized histogram: add `n` samples to `bucket` (< kBuckets),
  // then state the exact sum/min/max the buckets cannot carry.
  void add_to_bucket(size_t bucket, uint64_t n);
  void set_summary(uint64_t sum, uint32_t min, uint32_t max);

  // Heap plus object bytes; buckets are allocated on the first sample, then never grow.
  size_t memory_bytes() const;

 private:
  std::vector<uint64_t> counts_;  // empty until the first sample, then kBuckets
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint32_t min_ = UINT32_MAX;
  uint32_t max_ = 0;
};

}  // namespace pharos::log_reducer
