// parse_request_head: request line, field lines, then RFC 9112 section 6.3 request framing.
#include <algorithm>

#include "engine/http1/char_class.h"
#include "engine/http1/field_lines.h"
#include "engine/http1/parser.h"

namespace pharos::http1 {
namespace {

using detail::FieldLine;
using detail::KnownField;
using detail::LineKind;

constexpr ParseResult fail(Error error) { return {ParseStatus::kError, error}; }

std::string_view view(const uint8_t* from, const uint8_t* to) {
  return std::string_view(reinterpret_cast<const char*>(from), to - from);
}

// The target's form must fit the method (RFC 9112 3.2): authority-form with CONNECT and only
// there, "*" with OPTIONS and only there, otherwise origin-form or absolute-form.
bool target_fits_method(std::string_view method, std::string_view target) {
  if (method == "CONNECT") return detail::valid_authority_form(target);
  if (target == "*") return method == "OPTIONS";
  if (target[0] == '/') return true;
  return detail::valid_absolute_form(target);
}

}  // namespace

ParseResult parse_request_head(std::string_view buffer, const Limits& limits, RequestHead* out) {
  out->clear();
  const bool at_limit = buffer.size() >= limits.max_header_bytes;
  const auto* const begin = reinterpret_cast<const uint8_t*>(buffer.data());
  const auto* const end = begin + std::min<size_t>(buffer.size(), limits.max_header_bytes);
  const ParseResult ran_out =
      at_limit ? fail(Error::kHeadersTooLarge) : ParseResult{ParseStatus::kIncomplete};

  const uint8_t* p = begin;
  while (end - p >= 2 && p[0] == '\r' && p[1] == '\n') p += 2;
  if (end - p < 2) return ran_out;
  // Too large heads are still parsed, so that a syntax error is reported ahead of the size.
  if (!at_limit && !detail::has_head_end(p, end)) return ran_out;

  // method SP
  const uint8_t* const method = p;
  while (p < end && detail::kTchar[*p]) ++p;
  if (p >= end) return ran_out;
  if (p == method) return fail(Error::kBadRequestLine);
  if (*p != ' ') return fail(Error::kBadMethod);
  out->method = view(method, p);
  ++p;

  // request-target SP
  const uint8_t* const target = p;
  while (p < end && detail::kTarget[*p]) ++p;
  if (p >= end) return ran_out;
  if (p == target) return fail(Error::kBadRequestLine);  // two SPs, or nothing
  if (*p == '\r' || *p == '\n') return fail(Error::kBadVersion);  // HTTP/0.9 "GET /"
  if (*p != ' ') return fail(Error::kBadTarget);         // CTL or non-ASCII byte
  out->target = view(target, p);
  ++p;

  // HTTP-version CRLF
  if (p < end && *p == ' ') return fail(Error::kBadRequestLine);
  if (const Error e = detail::check_version_crlf(p, end, Error::kBadRequestLine);
      e != Error::kNone) {
    return fail(e);
  }
  if (end - p < 10) return ran_out;
  out->version_minor = static_cast<uint8_t>(p[7] - '0');
  p += 10;
  if (!target_fits_method(out->method, out->target)) return fail(Error::kBadTarget);

  uint32_t host_count = 0;
  uint32_t te_count = 0;
  bool cl_seen = false;
  uint64_t content_length = 0;
  detail::ConnectionOptions connection;
  Header field;
  for (;;) {
    const FieldLine line = detail::next_field_line(p, end, &field);
    if (line.kind == LineKind::kEnd) break;
    if (line.kind == LineKind::kRanOut) return ran_out;
    if (line.kind == LineKind::kError) return fail(line.error);
    if (out->headers.size() >= limits.max_headers) return fail(Error::kTooManyHeaders);
    out->headers.push_back(field);

    switch (detail::classify_field(field.name)) {
      case KnownField::kHost:
        if (++host_count > 1) return fail(Error::kDuplicateHost);
        if (!detail::valid_host(field.value)) return fail(Error::kBadHeaderValue);
        out->host = field.value;
        break;
      case KnownField::kContentLength:
        if (!detail::merge_content_length(field.value, &cl_seen, &content_length)) {
          return fail(Error::kBadContentLength);
        }
        break;
      case KnownField::kTransferEncoding:
        // Exactly one field line, exactly "chunked": any other coding or list is refused, since
        // members disagree on how to frame them.
        if (++te_count > 1 || !detail::iequals(field.value, "chunked")) {
          return fail(Error::kBadTransferEncoding);
        }
        break;
      case KnownField::kConnection:
        detail::scan_connection(field.value, &connection);
        break;
      case KnownField::kExpect:
        out->expect_continue = detail::iequals(field.value, "100-continue");
        break;
      case KnownField::kUserAgent:
        if (out->user_agent.empty()) out->user_agent = field.value;
        break;
      case KnownField::kOther:
        break;
    }
  }
  out->head_bytes = static_cast<size_t>(p - begin);

  if (te_count > 0 && cl_seen) return fail(Error::kConflictingFraming);
  if (te_count > 0 && out->version_minor == 0) return fail(Error::kBadTransferEncoding);
  if (out->version_minor == 1 && host_count == 0) return fail(Error::kMissingHost);

  if (te_count > 0) {
    out->framing = BodyFraming::kChunked;
  } else if (cl_seen) {
    out->framing = BodyFraming::kContentLength;
    out->content_length = content_length;
  }
  out->keep_alive = out->version_minor == 1 ? !connection.close
                                            : connection.keep_alive && !connection.close;
  // RFC 9110 10.1.1: a server must ignore 100-continue in an HTTP/1.0 request.
  out->expect_continue = out->expect_continue && out->version_minor == 1;
  return {ParseStatus::kComplete};
}

}  // namespace pharos::http1
