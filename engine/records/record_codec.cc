#include "engine/records/record_codec.h"

#include <array>
#include <bit>
#include <cstring>

namespace pharos::records {
namespace {

// Fixed-width little-endian stores and loads; memcpy keeps them alignment-safe and compiles to
// plain moves on little-endian hosts.
template <typename T>
T to_le(T v) {
  if constexpr (std::endian::native == std::endian::big && sizeof(T) == 2) {
    return static_cast<T>(__builtin_bswap16(v));
  } else if constexpr (std::endian::native == std::endian::big && sizeof(T) == 4) {
    return static_cast<T>(__builtin_bswap32(v));
  } else if constexpr (std::endian::native == std::endian::big && sizeof(T) == 8) {
    return static_cast<T>(__builtin_bswap64(v));
  } else {
    return v;
  }
}

template <typename T>
char* put(char* p, T v) {
  v = to_le(v);
  std::memcpy(p, &v, sizeof(T));
  return p + sizeof(T);
}

template <typename T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return to_le(v);
}

// Longest prefix of `s` within `cap` bytes that does not split a UTF-8 sequence. Bytes that
// are not UTF-8 at all are cut at the cap: the codec treats them as opaque.
size_t capped_length(const std::string& s, size_t cap) {
  if (s.size() <= cap) return s.size();
  size_t n = cap;
  for (int i = 0; i < 3 && n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80; ++i) --n;
  if ((static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) return cap;
  return n;
}

// Strings in wire order with their caps; decode() walks the same table.
constexpr std::array<size_t, kStringCount> kCaps = {
    StringCaps::kListenerId, StringCaps::kPoolId,   StringCaps::kMemberId,
    StringCaps::kClientAddress, StringCaps::kMethod, StringCaps::kHost,
    StringCaps::kPath,       StringCaps::kUserAgent, StringCaps::kSni};

inline std::array<const std::string*, kStringCount> strings_of(const TransactionRecord& r) {
  return {&r.listener_id, &r.pool_id, &r.member_id, &r.client_address, &r.method,
          &r.host,        &r.path,    &r.user_agent, &r.sni};
}

inline std::array<std::string*, kStringCount> strings_of(TransactionRecord* r) {
  return {&r->listener_id, &r->pool_id, &r->member_id, &r->client_address, &r->method,
          &r->host,        &r->path,    &r->user_agent, &r->sni};
}

}  // namespace

const char* to_string(DecodeError error) {
  switch (error) {
    case DecodeError::kOk: return "ok";
    case DecodeError::kTruncated: return "truncated";
    case DecodeError::kBadMagic: return "bad_magic";
    case DecodeError::kUnsupportedVersion: return "unsupported_version";
    case DecodeError::kBadLength: return "bad_length";
    case DecodeError::kStringTooLong: return "string_too_long";
    case DecodeError::kBadEnum: return "bad_enum";
  }
  return "unknown";
}

size_t encoded_size(const TransactionRecord& record) {
  size_t size = kMinRecordBytes;
  const auto strings = strings_of(record);
  for (size_t i = 0; i < kStringCount; ++i) size += capped_length(*strings[i], kCaps[i]);
  return size;
}

size_t encode(const TransactionRecord& r, std::string* out) {
  const auto strings = strings_of(r);
  std::array<uint16_t, kStringCount> lengths;
  size_t size = kMinRecordBytes;
  uint8_t flags = (r.tls ? kFlagTls : 0) | (r.http2 ? kFlagHttp2 : 0);
  for (size_t i = 0; i < kStringCount; ++i) {
    lengths[i] = static_cast<uint16_t>(capped_length(*strings[i], kCaps[i]));
    if (lengths[i] != strings[i]->size()) flags |= kFlagTruncated;
    size += lengths[i];
  }

  const size_t offset = out->size();
  out->resize(offset + size);
  char* p = out->data() + offset;
  p = put<uint8_t>(p, kRecordMagic);
  p = put<uint8_t>(p, kRecordVersion);
  p = put<uint16_t>(p, static_cast<uint16_t>(size));
  p = put<uint8_t>(p, static_cast<uint8_t>(r.kind));
  p = put<uint8_t>(p, static_cast<uint8_t>(r.termination));
  p = put<uint16_t>(p, r.status);
  p = put<uint16_t>(p, r.client_port);
  p = put<uint8_t>(p, r.retries);
  p = put<uint8_t>(p, flags);
  p = put<uint64_t>(p, r.start_unix_us);
  p = put<uint32_t>(p, r.client_rtt_us);
  p = put<uint32_t>(p, r.connect_us);
  p = put<uint32_t>(p, r.ttfb_us);
  p = put<uint32_t>(p, r.transfer_us);
  p = put<uint32_t>(p, r.total_us);
  p = put<uint64_t>(p, r.bytes_in);
  p = put<uint64_t>(p, r.bytes_out);
  for (size_t i = 0; i < kStringCount; ++i) {
    p = put<uint16_t>(p, lengths[i]);
    std::memcpy(p, strings[i]->data(), lengths[i]);
    p += lengths[i];
  }
  return size;
}

DecodeResult decode(std::string_view in, TransactionRecord* out, bool* truncated) {
  if (in.size() < kHeaderBytes) {
    // Report a wrong magic as soon as the first byte is there: it is the likelier diagnosis.
    if (!in.empty() && static_cast<uint8_t>(in[0]) != kRecordMagic) {
      return {DecodeError::kBadMagic, 0};
    }
    return {DecodeError::kTruncated, 0};
  }
  const char* p = in.data();
  if (get<uint8_t>(p) != kRecordMagic) return {DecodeError::kBadMagic, 0};
  if (get<uint8_t>(p + 1) != kRecordVersion) return {DecodeError::kUnsupportedVersion, 0};
  const size_t length = get<uint16_t>(p + 2);
  if (length < kMinRecordBytes) return {DecodeError::kBadLength, 0};
  if (length > in.size()) return {DecodeError::kTruncated, 0};
  const char* const end = p + length;
  p += kHeaderBytes;

  const uint8_t kind = get<uint8_t>(p);
  const uint8_t termination = get<uint8_t>(p + 1);
  if (kind != static_cast<uint8_t>(RecordKind::kHttp) &&
      kind != static_cast<uint8_t>(RecordKind::kTcp)) {
    return {DecodeError::kBadEnum, 0};
  }
  if (termination > static_cast<uint8_t>(Termination::kInternal)) {
    return {DecodeError::kBadEnum, 0};
  }
  out->kind = static_cast<RecordKind>(kind);
  out->termination = static_cast<Termination>(termination);
  out->status = get<uint16_t>(p + 2);
  out->client_port = get<uint16_t>(p + 4);
  out->retries = get<uint8_t>(p + 6);
  const uint8_t flags = get<uint8_t>(p + 7);
  out->start_unix_us = get<uint64_t>(p + 8);
  out->client_rtt_us = get<uint32_t>(p + 16);
  out->connect_us = get<uint32_t>(p + 20);
  out->ttfb_us = get<uint32_t>(p + 24);
  out->transfer_us = get<uint32_t>(p + 28);
  out->total_us = get<uint32_t>(p + 32);
  out->bytes_in = get<uint64_t>(p + 36);
  out->bytes_out = get<uint64_t>(p + 44);
  p += kFixedBytes;

  const auto strings = strings_of(out);
  for (size_t i = 0; i < kStringCount; ++i) {
    // The length check covers the u16 prefixes too: kMinRecordBytes counted them all, so only
    // string bytes can overrun, and they are checked against `end` before being read.
    const size_t n = get<uint16_t>(p);
    p += 2;
    if (n > kCaps[i]) return {DecodeError::kStringTooLong, 0};
    const size_t prefixes_left = 2 * (kStringCount - 1 - i);
    if (n + prefixes_left > static_cast<size_t>(end - p)) return {DecodeError::kBadLength, 0};
    strings[i]->assign(p, n);
    p += n;
  }
  // Bytes between the last string and `end` are reserved for fields a later revision of this
  // version may append; an older decoder skips them.
  if (truncated != nullptr) *truncated = (flags & kFlagTruncated) != 0;
  out->tls = (flags & kFlagTls) != 0;
  out->http2 = (flags & kFlagHttp2) != 0;
  return {DecodeError::kOk, length};
}

bool BatchReader::next(TransactionRecord* out) {
  if (rest_.empty() || error_ != DecodeError::kOk) return false;
  const DecodeResult result = decode(rest_, out);
  if (result.error != DecodeError::kOk) {
    error_ = result.error;
    return false;
  }
  rest_.remove_prefix(result.consumed);
  ++records_;
  return true;
}

DecodeError decode_batch(std::string_view datagram, std::vector<TransactionRecord>* out) {
  BatchReader reader(datagram);
  TransactionRecord record;
  while (reader.next(&record)) out->push_back(record);
  return reader.error();
}

bool BatchWriter::add(const TransactionRecord& record) {
  if (buffer_.size() + encoded_size(record) > max_bytes_) return false;
  encode(record, &buffer_);
  ++records_;
  return true;
}

}  // namespace pharos::records
