// Compact serialization of an Aggregate: what the reducer's output costs to store or ship, and
// the size the reduction ratio counts. Layout: schema/transaction-record.md, "Aggregates".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "amphora_agent/log_reducer/aggregate.h"

namespace pharos::log_reducer {

inline constexpr uint8_t kAggregateMagic = 0xA8;
inline constexpr uint8_t kAggregateVersion = 1;

enum class AggregateDecodeError : uint8_t {
  kOk = 0,
  kTruncated,
  kBadMagic,
  kUnsupportedVersion,
  kCorrupt,  // varint overflow, bucket index out of range, counts that do not add up
};

// Appends the encoding to `*out`; returns the bytes appended. Canonical lowercase UUIDs take 17
// bytes; other strings over 254 bytes are cut (keys come from record strings already capped at
// 64 bytes, and normalised methods).
size_t encode_aggregate(const Aggregate& aggregate, std::string* out);

// Decodes one aggregate from the front of `in`; `*consumed` gets its size on success.
AggregateDecodeError decode_aggregate(std::string_view in, Aggregate* out, size_t* consumed);

}  // namespace pharos::log_reducer
