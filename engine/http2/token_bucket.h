// A token bucket counting abusive events (client resets, control frames) against a rate per
// second with a burst of ten seconds' worth, as the config's Http2Limits describe. No I/O; the
// caller passes the monotonic time so tests can drive it.
#pragma once

#include <algorithm>
#include <cstdint>

namespace pharos::http2 {

class TokenBucket {
 public:
  static constexpr uint32_t kBurstSeconds = 10;

  // rate_per_second >= 1. The bucket starts full.
  TokenBucket(uint32_t rate_per_second, uint64_t now_ms)
      : rate_(std::max<uint32_t>(rate_per_second, 1)),
        capacity_milli_(uint64_t(rate_) * kBurstSeconds * 1000),
        tokens_milli_(capacity_milli_),
        last_ms_(now_ms) {}

  // Takes one token; false when the bucket is empty (the event is over the limit).
  bool take(uint64_t now_ms) {
    if (now_ms > last_ms_) {
      // rate_ tokens per second = rate_ milli-tokens per millisecond.
      tokens_milli_ = std::min(capacity_milli_, tokens_milli_ + (now_ms - last_ms_) * rate_);
      last_ms_ = now_ms;
    }
    if (tokens_milli_ < 1000) return false;
    tokens_milli_ -= 1000;
    return true;
  }

 private:
  uint32_t rate_;
  uint64_t capacity_milli_;
  uint64_t tokens_milli_;
  uint64_t last_ms_;
};

}  // namespace pharos::http2
