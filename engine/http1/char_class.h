// Byte classes of RFC 9110/9112 as 256-entry tables, built at compile time. Internal to http1.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pharos::http1::detail {

using ByteTable = std::array<uint8_t, 256>;

constexpr bool is_alpha(unsigned c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_digit(unsigned c) { return c >= '0' && c <= '9'; }

constexpr ByteTable make_tchar() {
  ByteTable t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = is_alpha(c) || is_digit(c);
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<uint8_t>(c)] = 1;
  return t;
}

// field-vchar / SP / HTAB: VCHAR (0x21-0x7E), obs-text (0x80-0xFF), SP, HTAB.
constexpr ByteTable make_field_value() {
  ByteTable t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = (c >= 0x20 && c != 0x7F) || c == '\t';
  return t;
}

// request-target bytes: VCHAR only (no CTL, SP, or non-ASCII).
constexpr ByteTable make_target() {
  ByteTable t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = c >= 0x21 && c <= 0x7E;
  return t;
}

// qdtext of a quoted-string: HTAB / SP / 0x21 / 0x23-0x5B / 0x5D-0x7E / obs-text.
constexpr ByteTable make_qdtext() {
  ByteTable t{};
  for (unsigned c = 0; c < 256; ++c) {
    t[c] = c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
           (c >= 0x5D && c <= 0x7E) || c >= 0x80;
  }
  return t;
}

// Host field value: uri-host [ ":" port ] bytes (unreserved, pct-encoded, sub-delims, ":[]").
constexpr ByteTable make_host() {
  ByteTable t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = is_alpha(c) || is_digit(c);
  for (char c : std::string_view("-._~%!$&'()*+,;=:[]")) t[static_cast<uint8_t>(c)] = 1;
  return t;
}

// Hex digit value, or 0xFF.
constexpr ByteTable make_hex() {
  ByteTable t{};
  for (unsigned c = 0; c < 256; ++c) {
    t[c] = is_digit(c) ? c - '0'
           : (c >= 'a' && c <= 'f') ? c - 'a' + 10
           : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                    : 0xFF;
  }
  return t;
}

constexpr ByteTable make_lower() {
  ByteTable t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
  return t;
}

inline constexpr ByteTable kTchar = make_tchar();
inline constexpr ByteTable kFieldValue = make_field_value();
inline constexpr ByteTable kTarget = make_target();
inline constexpr ByteTable kQdtext = make_qdtext();
inline constexpr ByteTable kHost = make_host();
inline constexpr ByteTable kHex = make_hex();
inline constexpr ByteTable kLower = make_lower();

inline bool is_tchar(uint8_t c) { return kTchar[c] != 0; }

// Returns the first byte in [p, end) that is not field-vchar / SP / HTAB (or end). Field values
// are most of a head's bytes, so they are checked 16 at a time where SSE2 is available.
inline const uint8_t* skip_field_value(const uint8_t* p, const uint8_t* end) {
#if defined(__SSE2__)
  const __m128i ctl_max = _mm_set1_epi8(0x1F);
  const __m128i del = _mm_set1_epi8(0x7F);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // b <= 0x1F (unsigned) or b == 0x7F: a CTL, or HTAB which the scalar loop lets through.
    const __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl_max), v);
    const int mask = _mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, del)));
    if (mask == 0) {
      p += 16;
      continue;
    }
    p += __builtin_ctz(static_cast<unsigned>(mask));
    if (*p != '\t') return p;
    ++p;
  }
#endif
  while (p < end && kFieldValue[*p]) ++p;
  return p;
}
inline bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

// ASCII case-insensitive equality; `lower` must already be lowercase.
inline bool iequals(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (kLower[static_cast<uint8_t>(s[i])] != static_cast<uint8_t>(lower[i])) return false;
  }
  return true;
}

}  // namespace pharos::http1::detail
