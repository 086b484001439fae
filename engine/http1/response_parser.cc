// parse_response_head: status line, field lines, then RFC 9112 section 6.3 response framing.
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

}  // namespace

ParseResult parse_response_head(std::string_view buffer, const Limits& limits,
                                bool is_head_request, bool request_was_connect,
                                ResponseHead* out) {
  out->clear();
  const bool at_limit = buffer.size() >= limits.max_header_bytes;
  const auto* const begin = reinterpret_cast<const uint8_t*>(buffer.data());
  const auto* const end = begin + std::min<size_t>(buffer.size(), limits.max_header_bytes);
  const ParseResult ran_out =
      at_limit ? fail(Error::kHeadersTooLarge) : ParseResult{ParseStatus::kIncomplete};

  const uint8_t* p = begin;
  // "HTTP/1.x" SP: anything not starting like a status line is refused at once.
  static constexpr std::string_view kHttp = "HTTP/";
  for (size_t i = 0; i < kHttp.size() && begin + i < end; ++i) {
    if (p[i] != static_cast<uint8_t>(kHttp[i])) return fail(Error::kBadStatusLine);
  }
  if (const Error e = detail::check_version(p, end, " ", Error::kBadStatusLine);
      e != Error::kNone) {
    return fail(e);
  }
  if (!at_limit && !detail::has_head_end(p, end)) return ran_out;
  if (end - p < 9) return ran_out;
  out->version_minor = static_cast<uint8_t>(p[7] - '0');
  p += 9;

  // 3DIGIT, 100-599
  uint16_t status = 0;
  for (int i = 0; i < 3; ++i, ++p) {
    if (p >= end) return ran_out;
    if (!detail::is_digit(*p)) return fail(Error::kBadStatusLine);
    status = static_cast<uint16_t>(status * 10 + (*p - '0'));
  }
  if (status < 100 || status > 599) return fail(Error::kBadStatusLine);
  out->status = status;

  // [ SP reason-phrase ] CRLF. The SP is required by the grammar but often omitted before an
  // empty reason; accepting its absence cannot change framing.
  if (p < end && *p == ' ') {
    ++p;
    const uint8_t* const reason = p;
    p = detail::skip_field_value(p, end);
    out->reason = std::string_view(reinterpret_cast<const char*>(reason), p - reason);
  }
  if (end - p < 2) return ran_out;
  if (p[0] != '\r' || p[1] != '\n') return fail(Error::kBadStatusLine);
  p += 2;

  bool cl_seen = false;
  uint64_t content_length = 0;
  detail::TransferCodings codings;
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
      case KnownField::kContentLength:
        if (!detail::merge_content_length(field.value, &cl_seen, &content_length)) {
          return fail(Error::kBadContentLength);
        }
        break;
      case KnownField::kTransferEncoding:
        if (!detail::merge_response_transfer_encoding(field.value, &codings)) {
          return fail(Error::kBadTransferEncoding);
        }
        break;
      case KnownField::kConnection:
        detail::scan_connection(field.value, &connection);
        break;
      default:
        break;
    }
  }
  out->head_bytes = static_cast<size_t>(p - begin);

  // Refused even where the RFC lets TE override CL: a member sending both is either broken or
  // being used to desynchronise someone, and we cannot know which.
  if (codings.present && cl_seen) return fail(Error::kConflictingFraming);
  if (codings.present && out->version_minor == 0) return fail(Error::kBadTransferEncoding);

  out->tunnel = status == 101 || (request_was_connect && status >= 200 && status < 300);
  out->content_length = cl_seen ? content_length : 0;
  if (is_head_request || status < 200 || status == 204 || status == 304 || out->tunnel) {
    out->framing = BodyFraming::kNone;
  } else if (codings.present) {
    out->framing = codings.chunked_last ? BodyFraming::kChunked : BodyFraming::kUntilClose;
  } else if (cl_seen) {
    out->framing = BodyFraming::kContentLength;
  } else {
    out->framing = BodyFraming::kUntilClose;
  }
  out->keep_alive = (out->version_minor == 1 ? !connection.close
                                             : connection.keep_alive && !connection.close) &&
                    out->framing != BodyFraming::kUntilClose && !out->tunnel;
  return {ParseStatus::kComplete};
}

}  // namespace pharos::http1
