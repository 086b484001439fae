#include "amphora_agent/log_reducer/aggregate_codec.h"

#include <algorithm>

namespace pharos::log_reducer {
namespace {

void put_varint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Key strings are mostly Octavia ids: canonical lowercase UUIDs travel as 16 bytes after a
// marker length byte instead of 36 characters. Anything else is u8 length + bytes.
constexpr uint8_t kUuidMarker = 0xFF;
constexpr size_t kMaxStringBytes = 254;
constexpr char kHex[] = "0123456789abcdef";

bool is_dash_position(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool is_canonical_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    if (is_dash_position(i) ? s[i] != '-' : hex_value(s[i]) < 0) return false;
  }
  return true;
}

void put_string(std::string_view s, std::string* out) {
  if (is_canonical_uuid(s)) {
    out->push_back(static_cast<char>(kUuidMarker));
    for (size_t i = 0; i < 36;) {
      if (is_dash_position(i)) {
        ++i;
        continue;
      }
      out->push_back(static_cast<char>(hex_value(s[i]) << 4 | hex_value(s[i + 1])));
      i += 2;
    }
    return;
  }
  const size_t n = std::min(s.size(), kMaxStringBytes);
  out->push_back(static_cast<char>(n));
  out->append(s.data(), n);
}

void put_histogram(const LatencyHistogram& h, std::string* out) {
  put_varint(h.count(), out);
  if (h.count() == 0) return;
  put_varint(h.sum(), out);
  put_varint(h.min(), out);
  put_varint(h.max(), out);
  put_varint(h.nonzero_buckets(), out);
  size_t next = 0;  // gaps are coded from the bucket after the previous non-empty one
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    const uint64_t c = h.bucket_count(i);
    if (c == 0) continue;
    put_varint(i - next, out);
    put_varint(c, out);
    next = i + 1;
  }
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail(AggregateDecodeError::kTruncated);
      const uint8_t byte = static_cast<uint8_t>(in_[pos_++]);
      if (shift == 63 && byte > 1) return fail(AggregateDecodeError::kCorrupt);
      *v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return fail(AggregateDecodeError::kCorrupt);
  }
  bool u32(uint32_t* v) {
    uint64_t wide;
    if (!varint(&wide)) return false;
    if (wide > UINT32_MAX) return fail(AggregateDecodeError::kCorrupt);
    *v = static_cast<uint32_t>(wide);
    return true;
  }
  bool byte(uint8_t* v) {
    if (pos_ >= in_.size()) return fail(AggregateDecodeError::kTruncated);
    *v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool string(std::string* s) {
    uint8_t n;
    if (!byte(&n)) return false;
    if (n == kUuidMarker) {
      if (in_.size() - pos_ < 16) return fail(AggregateDecodeError::kTruncated);
      s->clear();
      for (size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s->push_back('-');
        const uint8_t b = static_cast<uint8_t>(in_[pos_++]);
        s->push_back(kHex[b >> 4]);
        s->push_back(kHex[b & 0xF]);
      }
      return true;
    }
    if (in_.size() - pos_ < n) return fail(AggregateDecodeError::kTruncated);
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool histogram(LatencyHistogram* h) {
    h->reset();
    uint64_t count;
    if (!varint(&count)) return false;
    if (count == 0) return true;
    uint64_t sum, buckets;
    uint32_t min, max;
    if (!varint(&sum) || !u32(&min) || !u32(&max) || !varint(&buckets)) return false;
    if (min > max || buckets == 0 || buckets > LatencyHistogram::kBuckets) {
      return fail(AggregateDecodeError::kCorrupt);
    }
    uint64_t next = 0;
    for (uint64_t i = 0; i < buckets; ++i) {
      uint64_t gap, c;
      if (!varint(&gap) || !varint(&c)) return false;
      if (gap >= LatencyHistogram::kBuckets - next || c == 0) {
        return fail(AggregateDecodeError::kCorrupt);
      }
      next += gap;
      h->add_to_bucket(next, c);
      ++next;
    }
    if (h->count() != count) return fail(AggregateDecodeError::kCorrupt);
    h->set_summary(sum, min, max);
    return true;
  }

  size_t pos() const { return pos_; }
  AggregateDecodeError error() const { return error_; }

 private:
  bool fail(AggregateDecodeError e) {
    error_ = e;
    return false;
  }
  std::string_view in_;
  size_t pos_ = 0;
  AggregateDecodeError error_ = AggregateDecodeError::kOk;
};

}  // namespace

size_t encode_aggregate(const Aggregate& a, std::string* out) {
  const size_t before = out->size();
  out->push_back(static_cast<char>(kAggregateMagic));
  out->push_back(static_cast<char>(kAggregateVersion));
  put_varint(a.key.interval_start_us, out);
  put_varint(a.interval_us, out);
  out->push_back(static_cast<char>(a.key.status_class));
  put_string(a.key.listener_id, out);
  put_string(a.key.pool_id, out);
  put_string(a.key.member_id, out);
  put_string(a.key.method, out);
  put_varint(a.count, out);
  put_varint(a.bytes_in, out);
  put_varint(a.bytes_out, out);
  put_histogram(a.total_us, out);
  put_histogram(a.ttfb_us, out);
  return out->size() - before;
}

AggregateDecodeError decode_aggregate(std::string_view in, Aggregate* out, size_t* consumed) {
  Reader r(in);
  uint8_t magic, version, status_class;
  if (!r.byte(&magic)) return r.error();
  if (magic != kAggregateMagic) return AggregateDecodeError::kBadMagic;
  if (!r.byte(&version)) return r.error();
  if (version != kAggregateVersion) return AggregateDecodeError::kUnsupportedVersion;
  if (!r.varint(&out->key.interval_start_us) || !r.u32(&out->interval_us) ||
      !r.byte(&status_class)) {
    return r.error();
  }
  if (status_class > static_cast<uint8_t>(StatusClass::k5xx)) {
    return AggregateDecodeError::kCorrupt;
  }
  out->key.status_class = static_cast<StatusClass>(status_class);
  if (!r.string(&out->key.listener_id) || !r.string(&out->key.pool_id) ||
      !r.string(&out->key.member_id) || !r.string(&out->key.method) ||
      !r.varint(&out->count) || !r.varint(&out->bytes_in) || !r.varint(&out->bytes_out) ||
      !r.histogram(&out->total_us) || !r.histogram(&out->ttfb_us)) {
    return r.error();
  }
  *consumed = r.pos();
  return AggregateDecodeError::kOk;
}

}  // namespace pharos::log_reducer
