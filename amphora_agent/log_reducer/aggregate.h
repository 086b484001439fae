// What the log reducer produces: per-interval aggregates and the reasons a record is kept whole.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "amphora_agent/log_reducer/latency_histogram.h"

namespace pharos::log_reducer {

// HTTP status class; kOther for TCP records (status 0) and statuses outside 100..599.
enum class StatusClass : uint8_t { kOther = 0, k1xx = 1, k2xx = 2, k3xx = 3, k4xx = 4, k5xx = 5 };

inline StatusClass status_class_of(uint16_t status) {
  return status >= 100 && status <= 599 ? static_cast<StatusClass>(status / 100)
                                        : StatusClass::kOther;
}

// Why a record was kept in full; a record may carry several bits.
enum class Reason : uint8_t {
  kNone = 0,
  kStatusError = 1 << 0,          // HTTP status 4xx or 5xx
  kAbnormalTermination = 1 << 1,  // termination other than kNormal
  kSlow = 1 << 2,                 // above the SLA and the listener's running quantile
  kMemberFirstError = 1 << 3,     // a member's first error after a long run of successes
  kMemberRecovered = 1 << 4,      // a member's first success after a run of errors
};

constexpr Reason operator|(Reason a, Reason b) {
  return static_cast<Reason>(static_cast<uint8_t>(a) | static_cast<uint8_t>(b));
}
constexpr Reason& operator|=(Reason& a, Reason b) { return a = a | b; }
constexpr bool has(Reason set, Reason bit) {
  return (static_cast<uint8_t>(set) & static_cast<uint8_t>(bit)) != 0;
}

// The aggregation key. `method` is normalised to a fixed vocabulary (see normalize_method) so
// a client cannot grow the key space; it is empty for TCP records.
struct AggregateKey {
  uint64_t interval_start_us = 0;  // start_unix_us rounded down to the interval
  std::string listener_id;
  std::string pool_id;
  std::string member_id;
  StatusClass status_class = StatusClass::kOther;
  std::string method;
};

// Every record of one key in one interval, significant ones included, so counts and byte sums
// over all aggregates equal those of the raw stream. Aggregates are additive: two with the same
// key (an interval re-opened by a late record, or spilled early under memory pressure) merge by
// summing counts and merging histograms.
struct Aggregate {
  AggregateKey key;
  uint32_t interval_us = 0;
  uint64_t count = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  LatencyHistogram total_us;
  LatencyHistogram ttfb_us;

  // Adds `other`'s samples; the keys are the caller's business.
  void merge(const Aggregate& other) {
    count += other.count;
    bytes_in += other.bytes_in;
    bytes_out += other.bytes_out;
    total_us.merge(other.total_us);
    ttfb_us.merge(other.ttfb_us);
  }
};

// GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH as they are; "" stays ""; any
// other method becomes "OTHER". Returns a view of a static string.
std::string_view normalize_method(std::string_view method);

}  // namespace pharos::log_reducer
