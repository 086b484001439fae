#include "engine/proxy/header_rules.h"

namespace pharos::proxy {

bool is_hop_by_hop(std::string_view name) {
  return iequals(name, "connection") || iequals(name, "keep-alive") ||
         iequals(name, "proxy-connection") || iequals(name, "upgrade") || iequals(name, "te");
}

bool is_connection_specific(std::string_view name) {
  return is_hop_by_hop(name) || iequals(name, "transfer-encoding") || iequals(name, "http2-settings");
}

bool forbidden_in_trailers(std::string_view name) {
  static constexpr std::string_view kForbidden[] = {
      "content-length", "content-encoding", "content-type", "content-range", "trailer",
      "host", "authorization", "proxy-authorization", "proxy-authenticate", "www-authenticate",
      "cookie", "set-cookie", "cache-control", "expect", "max-forwards", "pragma", "range",
      "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range",
      "age", "expires", "date", "location", "retry-after", "vary", "warning",
  };
  if (name.empty() || name.front() == ':' || is_connection_specific(name)) return true;
  for (std::string_view forbidden : kForbidden) {
    if (iequals(name, forbidden)) return true;
  }
  return false;
}

bool trailers_to_forward(std::vector<http::Header>* trailers, uint32_t max_fields, uint32_t max_bytes) {
  if (trailers->size() > max_fields) return false;
  size_t bytes = 2;  // the section's final CRLF
  for (const auto& field : *trailers) bytes += field.name.size() + 2 + field.value.size() + 2;
  if (bytes > max_bytes) return false;
  std::erase_if(*trailers, [](const http::Header& field) { return forbidden_in_trailers(field.name); });
  return true;
}

// Whether the comma-separated token list of a Connection field contains `name`.
bool connection_list_names(std::string_view list, std::string_view name) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view token = list.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (iequals(token, name)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

const char* local_response_body(uint16_t status, records::Termination why) {
  switch (why) {
    case records::Termination::kBadRequest: return "The request is not valid HTTP.\n";
    case records::Termination::kNoMember: return "No member of the pool is available to serve this request.\n";
    case records::Termination::kConnectFailed: return "No member of the pool accepted a connection.\n";
    case records::Termination::kMemberTimeout: return "The member did not answer in time.\n";
    case records::Termination::kMemberReset: return "The member closed the connection without a response.\n";
    case records::Termination::kBadResponse: return "The member sent an invalid HTTP response.\n";
    case records::Termination::kClientTimeout: return "The request was not received in time.\n";
    case records::Termination::kDenied: return "The request was refused by the load balancer's policy.\n";
    default: break;
  }
  if (status >= 300 && status < 400) return "The resource is at the address in the Location header.\n";
  return status == 503 ? "Service unavailable.\n" : "The request could not be served.\n";
}

}  // namespace pharos::proxy
