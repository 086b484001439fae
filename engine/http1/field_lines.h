// Pieces shared by the request and response head parsers: finding the end of a head, scanning
// one field line, and reading the list-valued fields that decide framing. Internal to http1.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "engine/http1/char_class.h"
#include "engine/http1/message.h"

namespace pharos::http1::detail {

// True when [p, end) holds an empty line after some line (LF CRLF or LF LF), i.e. the head may be
// complete. A cheap memchr pre-scan so that a head arriving byte by byte is not fully re-parsed
// on every read; the full parse then refuses bare LF endings.
inline bool has_head_end(const uint8_t* p, const uint8_t* end) {
  // The usual case, a bodiless request read whole, needs no scan.
  if (end - p >= 4 && std::memcmp(end - 4, "\r\n\r\n", 4) == 0) return true;
  while (p < end) {
    const auto* lf = static_cast<const uint8_t*>(std::memchr(p, '\n', end - p));
    if (lf == nullptr || lf + 1 >= end) return false;
    if (lf[1] == '\n') return true;
    if (lf[1] == '\r') {
      if (lf + 2 >= end) return false;
      if (lf[2] == '\n') return true;
    }
    p = lf + 1;
  }
  return false;
}

// Checks the available prefix of "HTTP/1.0" or "HTTP/1.1" followed by `after` ("\r\n" ending a
// request line, " " in a status line). kNone when every available byte matches, so a short
// buffer is reported as soon as it cannot become valid. A bad line ending yields line_error.
inline Error check_version(const uint8_t* p, const uint8_t* end, std::string_view after,
                           Error line_error) {
  static constexpr std::string_view kPrefix = "HTTP/1.";
  const size_t avail = static_cast<size_t>(end - p);
  for (size_t i = 0; i < kPrefix.size() && i < avail; ++i) {
    if (p[i] != static_cast<uint8_t>(kPrefix[i])) return Error::kBadVersion;
  }
  if (avail > 7 && p[7] != '0' && p[7] != '1') return Error::kBadVersion;
  for (size_t i = 0; i < after.size() && 8 + i < avail; ++i) {
    if (p[8 + i] != static_cast<uint8_t>(after[i])) {
      // "HTTP/1.10" or "HTTP/1.1 " is a bad version; a bare LF or CR ends the line badly.
      return i == 0 && p[8] != '\n' ? Error::kBadVersion : line_error;
    }
  }
  return Error::kNone;
}

inline Error check_version_crlf(const uint8_t* p, const uint8_t* end, Error line_error) {
  return check_version(p, end, "\r\n", line_error);
}

enum class LineKind : uint8_t { kField, kEnd, kRanOut, kError };

struct FieldLine {
  LineKind kind;
  Error error = Error::kNone;
};

// Scans the field line (or the final empty line) at p. kField: *out holds the name and the
// OWS-trimmed value and p is past the CRLF. kEnd: p is past the final CRLF. kRanOut: the line
// does not end before `end`. Bare LF and bare CR are errors.
inline FieldLine next_field_line(const uint8_t*& p, const uint8_t* end, Header* out) {
  if (p >= end) return {LineKind::kRanOut};
  if (*p == '\r') {
    if (p + 1 >= end) return {LineKind::kRanOut};
    if (p[1] != '\n') return {LineKind::kError, Error::kBadHeaderName};
    p += 2;
    return {LineKind::kEnd};
  }
  if (is_ows(*p)) return {LineKind::kError, Error::kObsFold};
  const uint8_t* const name = p;
  // Four bytes per bounds check while they last: names are most of a field line's bytes after
  // the value, which skip_field_value takes 16 at a time.
  while (end - p >= 4 && kTchar[p[0]] && kTchar[p[1]] && kTchar[p[2]] && kTchar[p[3]]) p += 4;
  while (p < end && kTchar[*p]) ++p;
  if (p >= end) return {LineKind::kRanOut};
  // Covers an empty name, "Name :" (whitespace before the colon), a missing colon, bare LF.
  if (p == name || *p != ':') return {LineKind::kError, Error::kBadHeaderName};
  const uint8_t* const name_end = p;
  ++p;
  while (p < end && is_ows(*p)) ++p;
  const uint8_t* const value = p;
  p = skip_field_value(p, end);
  if (p + 1 >= end) return {LineKind::kRanOut};
  // Anything but CRLF here is a CTL in the value: NUL, bare LF, bare CR, DEL, ...
  if (p[0] != '\r' || p[1] != '\n') return {LineKind::kError, Error::kBadHeaderValue};
  const uint8_t* value_end = p;
  while (value_end > value && is_ows(value_end[-1])) --value_end;
  out->name = std::string_view(reinterpret_cast<const char*>(name), name_end - name);
  out->value = std::string_view(reinterpret_cast<const char*>(value), value_end - value);
  p += 2;
  return {LineKind::kField};
}

// Field names the parsers act on; everything else is passed through untouched.
enum class KnownField : uint8_t {
  kOther, kHost, kContentLength, kTransferEncoding, kConnection, kExpect, kUserAgent,
};

inline KnownField classify_field(std::string_view name) {
  switch (name.size()) {
    case 4:
      if (iequals(name, "host")) return KnownField::kHost;
      break;
    case 6:
      if (iequals(name, "expect")) return KnownField::kExpect;
      break;
    case 10:
      if (iequals(name, "connection")) return KnownField::kConnection;
      if (iequals(name, "user-agent")) return KnownField::kUserAgent;
      break;
    case 14:
      if (iequals(name, "content-length")) return KnownField::kContentLength;
      break;
    case 17:
      if (iequals(name, "transfer-encoding")) return KnownField::kTransferEncoding;
      break;
    default:
      break;
  }
  return KnownField::kOther;
}

// Folds one Content-Length field value (1*DIGIT, or a comma list of them) into *length. False
// when a value is malformed, overflows u64, or differs from one seen before.
bool merge_content_length(std::string_view value, bool* seen, uint64_t* length);

// Connection options that matter to framing; other tokens are ignored.
struct ConnectionOptions {
  bool close = false;
  bool keep_alive = false;
};
void scan_connection(std::string_view value, ConnectionOptions* options);

// Transfer-Encoding state across field lines of a response: every element must be a token and
// "chunked", if present, must be the last one.
struct TransferCodings {
  bool present = false;
  bool chunked_last = false;
};
bool merge_response_transfer_encoding(std::string_view value, TransferCodings* codings);

bool valid_host(std::string_view value);
bool valid_authority_form(std::string_view target);
bool valid_absolute_form(std::string_view target);

}  // namespace pharos::http1::detail
