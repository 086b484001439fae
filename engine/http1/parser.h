// Strict HTTP/1.1 and HTTP/1.0 head parsers (RFC 9112). No I/O, no allocation once the head's
// header vector has grown to its working size. This is a security boundary: anything ambiguous
// is refused rather than guessed, so the proxy never forwards a message a member could frame
// differently.
//
// Choices where the RFC leaves room (all tested in tests/engine/http1/):
// - Lines must end in CRLF. A bare LF line ending is refused (kBadRequestLine, kBadStatusLine,
//   kBadHeaderValue, or kBadHeaderName for an empty line), as is a bare CR anywhere.
// - Empty lines (CRLF) before the request line are skipped and counted in head_bytes.
// - A request's Transfer-Encoding must be exactly "chunked" (case-insensitive, OWS-trimmed, one
//   field line); lists such as "gzip, chunked" are refused with kBadTransferEncoding.
// - Several Content-Length values (field lines or a comma list) are accepted when they are all
//   the same number; the proxy should then send a single normalised Content-Length.
// - Host must be a valid uri-host[:port] (else kBadHeaderValue); with an absolute-form target the
//   proxy, not the parser, decides which authority wins (RFC 9112 3.2.2: the target's).
// - The request-target is checked for form and bytes (VCHAR only), not as a full URI. The
//   absolute-form is accepted for http:// and https:// URIs with a non-empty authority only.
// - A status line without the SP before an empty reason ("HTTP/1.1 200\r\n") is accepted.
#pragma once

#include <string_view>

#include "engine/http1/body_decoder.h"
#include "engine/http1/message.h"

namespace pharos::http1 {

// buffer: the bytes received so far from the start of the message. kIncomplete while the head is
// not finished and buffer.size() < limits.max_header_bytes; kError(kHeadersTooLarge) beyond. On
// kComplete, out->head_bytes is the head's length including the final CRLF; the body (framed by
// out->framing) starts right after. out is cleared first; its header views point into buffer.
ParseResult parse_request_head(std::string_view buffer, const Limits& limits, RequestHead* out);

// Same contract for a member's response. is_head_request / request_was_connect select the RFC 9112
// section 6.3 framing: 1xx, 204, 304 and responses to HEAD have no body; a 2xx to CONNECT opens a
// tunnel (framing kNone, tunnel true); no Content-Length nor chunked means kUntilClose.
ParseResult parse_response_head(std::string_view buffer, const Limits& limits,
                                bool is_head_request, bool request_was_connect,
                                ResponseHead* out);
inline ParseResult parse_response_head(std::string_view buffer, const Limits& limits,
                                       bool is_head_request, ResponseHead* out) {
  return parse_response_head(buffer, limits, is_head_request, false, out);
}

}  // namespace pharos::http1
