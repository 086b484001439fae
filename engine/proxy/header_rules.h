// Header rules both HTTP sessions (HTTP/1 and HTTP/2 towards HTTP/1.1 members) follow: which
// fields describe a connection and never cross the proxy, how a header line is written, and the
// plain-text bodies of the engine's own error responses.
#pragma once

#include <strings.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/http/request.h"

#include "engine/records/transaction_record.h"

namespace pharos::proxy {

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Hop-by-hop fields (RFC 9110 7.6.1): they describe one connection, not the message.
bool is_hop_by_hop(std::string_view name);

// Hop-by-hop fields plus those HTTP/2 forbids (RFC 9113 8.2.2): never forwarded between h2 and h1.
bool is_connection_specific(std::string_view name);

// Fields a trailer section must not carry, because they have to be known before the content
// (RFC 9110 6.5.1): framing, routing, request modifiers, authentication, response control,
// content format, and the connection-specific fields. Dropped where trailers cross h1 and h2.
bool forbidden_in_trailers(std::string_view name);

// A trailer section from an h2 peer, made ready to cross: fields forbidden in trailers dropped.
// False when it holds more than `max_fields` fields or takes more than `max_bytes` written as an
// HTTP/1.1 trailer section: the limits a chunked trailer section from an HTTP/1.1 peer has.
bool trailers_to_forward(std::vector<http::Header>* trailers, uint32_t max_fields, uint32_t max_bytes);

// True when a Connection field of `head` lists `name` (which is then hop-by-hop too).
template <typename Head>
bool named_by_connection(const Head& head, std::string_view name);

inline void append_header(std::string* out, std::string_view name, std::string_view value) {
  out->append(name).append(": ").append(value).append("\r\n");
}

// The body of a response the engine makes itself: why no member answered, in words.
const char* local_response_body(uint16_t status, records::Termination why);

// ---- template implementation ----

bool connection_list_names(std::string_view list, std::string_view name);

template <typename Head>
bool named_by_connection(const Head& head, std::string_view name) {
  for (const auto& header : head.headers) {
    if (iequals(header.name, "connection") && connection_list_names(header.value, name)) return true;
  }
  return false;
}

}  // namespace pharos::proxy
