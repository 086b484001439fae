// HTTP/1.x message types shared by the head parsers and the body decoder: errors, limits, the
// parsed request and response heads. Types only; the functions live in parser.h and
// body_decoder.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pharos::http1 {

// Why a message was refused. Every value maps to a 400 (request) or 502 (response) and a counter.
// New values are appended, never reordered: counters are indexed by them.
enum class Error : uint8_t {
  kNone,
  kBadRequestLine,       // request line malformed (empty method, double SP, bare LF/CR)
  kBadMethod,            // method is not a token
  kBadTarget,            // request-target has CTL/SP/non-ASCII or the wrong form for the method
  kBadVersion,           // not exactly HTTP/1.1 or HTTP/1.0
  kBadStatusLine,        // status line malformed
  kBadHeaderName,        // empty name, non-token byte, whitespace before the colon, no colon
  kBadHeaderValue,       // CTL (NUL, bare CR/LF, ...) in a value, bare LF line end, invalid Host
  kObsFold,              // a field line starting with SP/HTAB
  kHeadersTooLarge,      // head longer than Limits::max_header_bytes
  kTooManyHeaders,       // more than Limits::max_headers field lines
  kBadContentLength,     // not 1*DIGIT, overflow, or differing values
  kConflictingFraming,   // both Transfer-Encoding and Content-Length
  kBadTransferEncoding,  // request TE other than "chunked", TE in HTTP/1.0, bad coding list
  kBadChunkSize,         // chunk-size empty, not hex, or longer than 16 digits
  kBadChunk,             // chunk-ext invalid, chunk line too long, data not followed by CRLF
  kBadTrailer,           // trailer field invalid or trailer section over max_trailer_bytes
  kMissingHost,          // HTTP/1.1 request without Host
  kDuplicateHost,        // more than one Host field line
};
inline constexpr size_t kErrorCount = static_cast<size_t>(Error::kDuplicateHost) + 1;

// Stable snake_case name ("bad_chunk_size"), used in logs and as a counter label.
const char* error_name(Error error);

struct Limits {
  uint32_t max_header_bytes = 16384;  // whole head, request/status line to final CRLF included
  uint32_t max_headers = 100;         // field lines in the head
  uint32_t max_trailer_bytes = 4096;  // trailer section after the last chunk, final CRLF included
};

// Views into the caller's buffer; valid while that buffer is. The value is OWS-trimmed.
struct Header {
  std::string_view name;
  std::string_view value;
};

enum class BodyFraming : uint8_t {
  kNone,           // no body
  kContentLength,  // exactly content_length bytes
  kChunked,        // chunked transfer coding
  kUntilClose,     // responses only: the body ends when the member closes
};

struct RequestHead {
  std::string_view method;
  std::string_view target;
  uint8_t version_minor = 1;  // 0 or 1
  std::vector<Header> headers;  // in wire order, duplicates kept
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;  // meaningful for kContentLength only
  bool keep_alive = false;
  bool expect_continue = false;  // "Expect: 100-continue" on an HTTP/1.1 request
  std::string_view host;        // empty when absent (HTTP/1.0)
  std::string_view user_agent;  // first User-Agent, empty when absent
  size_t head_bytes = 0;        // leading empty lines + request line + fields + final CRLF

  // Resets every field; keeps the header vector's capacity so reuse does not allocate.
  void clear();
};

struct ResponseHead {
  uint8_t version_minor = 1;
  uint16_t status = 0;
  std::string_view reason;
  std::vector<Header> headers;
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  bool keep_alive = false;
  // 101 Switching Protocols, or 2xx to CONNECT: the bytes after the head belong to a tunnel.
  bool tunnel = false;
  size_t head_bytes = 0;

  void clear();
};

enum class ParseStatus : uint8_t { kComplete, kIncomplete, kError };

struct ParseResult {
  ParseStatus status;
  Error error = Error::kNone;
};

}  // namespace pharos::http1
