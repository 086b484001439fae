// Small helpers shared by the http1 tests.
#pragma once

#include <string>
#include <string_view>

#include "engine/http1/parser.h"

namespace pharos::http1::testing {

inline ParseResult parse_request(std::string_view text, RequestHead* head = nullptr,
                                 const Limits& limits = Limits{}) {
  RequestHead scratch;
  return parse_request_head(text, limits, head != nullptr ? head : &scratch);
}

inline Error request_error(std::string_view text, const Limits& limits = Limits{}) {
  RequestHead head;
  const ParseResult r = parse_request_head(text, limits, &head);
  return r.status == ParseStatus::kError ? r.error : Error::kNone;
}

inline ParseResult parse_response(std::string_view text, ResponseHead* head = nullptr,
                                  bool is_head_request = false, bool request_was_connect = false) {
  ResponseHead scratch;
  return parse_response_head(text, Limits{}, is_head_request, request_was_connect,
                             head != nullptr ? head : &scratch);
}

inline Error response_error(std::string_view text) {
  const ParseResult r = parse_response(text);
  return r.status == ParseStatus::kError ? r.error : Error::kNone;
}

// A GET with Host, followed by the given extra field lines (each ending in CRLF).
inline std::string get_with(std::string_view fields) {
  return "GET / HTTP/1.1\r\nHost: example.com\r\n" + std::string(fields) + "\r\n";
}

inline std::string post_with(std::string_view fields) {
  return "POST /submit HTTP/1.1\r\nHost: example.com\r\n" + std::string(fields) + "\r\n";
}

}  // namespace pharos::http1::testing
