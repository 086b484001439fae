// What L7 rules look at in one request, whatever the HTTP version: the HTTP/1 session fills it
// from its parsed head, the HTTP/2 session from http::RequestHead (see
// engine/proxy/l7_request_facts.h). Views only; valid for the evaluation.
#pragma once

#include <optional>
#include <string_view>

namespace pharos::l7 {

class RequestFacts {
 public:
  virtual ~RequestFacts() = default;

  // The Host header (h2: :authority) as sent, port included; empty when absent.
  virtual std::string_view host() const = 0;
  // The request target as received: origin-form path and query, or an absolute URI.
  virtual std::string_view target() const = 0;
  // The value of the first field named `name` (case-insensitive); nullopt when there is none.
  virtual std::optional<std::string_view> header(std::string_view name) const = 0;
  // The value of the first cookie named `name` in the Cookie field(s); nullopt when none.
  virtual std::optional<std::string_view> cookie(std::string_view name) const = 0;

  // The client's TLS certificate; a connection without TLS has none and verifies as 0 (OK).
  virtual bool has_client_certificate() const = 0;
  virtual long client_verify_result() const = 0;
  // A subject field of the client certificate by short or long name ("CN", "commonName"),
  // case-insensitively; the first such entry. nullopt without certificate or field.
  virtual std::optional<std::string_view> client_subject_field(std::string_view key) const = 0;
};

// The path of `target`, without the query: "/a/b" for "/a/b?x=1" and for
// "http://host/a/b?x=1"; "/" for an absolute URI without a path.
std::string_view path_of(std::string_view target);

// The path and query of `target` (the target itself in origin-form).
std::string_view path_and_query_of(std::string_view target);

}  // namespace pharos::l7
